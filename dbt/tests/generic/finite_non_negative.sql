{#- Fails for every value that is negative, NaN or +/-infinity (NULLs are not_null's job).
    Portable: NaN compares greater than every double on DuckDB, Spark and Postgres. -#}
{% test finite_non_negative(model, column_name) %}
select {{ column_name }} as failing_value
from {{ model }}
where {{ column_name }} is not null
  and not ({{ column_name }} >= 0 and {{ column_name }} <= 1.7976931348623157e308)
{% endtest %}
