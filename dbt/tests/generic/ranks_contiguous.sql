{#- The column holds exactly 1..n for the model's n rows (no gaps, no duplicates). -#}
{% test ranks_contiguous(model, column_name) %}
with stats as (
    select
        count(*) as n_rows,
        count(distinct {{ column_name }}) as n_distinct,
        min({{ column_name }}) as min_rank,
        max({{ column_name }}) as max_rank
    from {{ model }}
)
select *
from stats
where n_rows > 0
  and (n_distinct <> n_rows or min_rank <> 1 or max_rank <> n_rows)
{% endtest %}
