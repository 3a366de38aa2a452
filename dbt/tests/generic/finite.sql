{#- Fails for every value that is NaN or +/-infinity (NULLs are not_null's job). -#}
{% test finite(model, column_name) %}
select {{ column_name }} as failing_value
from {{ model }}
where {{ column_name }} is not null
  and not ({{ column_name }} >= -1.7976931348623157e308
           and {{ column_name }} <= 1.7976931348623157e308)
{% endtest %}
