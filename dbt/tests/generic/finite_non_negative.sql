{#- Fails for every value that is negative, NaN or +/-infinity (NULLs are not_null's job). -#}
{% test finite_non_negative(model, column_name) %}
select {{ column_name }} as failing_value
from {{ model }}
where {{ imoutotv_hot.negative_or_not_finite(column_name) }}
{% endtest %}
