{#- Model-level: the combination of `columns` is unique. -#}
{% test unique_columns(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n_rows
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
