{#- Fails for every value that is NaN or +/-infinity (NULLs are not_null's job). -#}
{% test finite(model, column_name) %}
select {{ column_name }} as failing_value
from {{ model }}
where {{ imoutotv_hot.not_finite(column_name) }}
{% endtest %}
