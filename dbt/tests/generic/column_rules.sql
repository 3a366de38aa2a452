{#-
  Model-level: every column rule of a model in one query. It returns one row per broken rule
  and offending row: the column, the rule, and the value (as text).

  The marts carry one of these in place of a test per column and rule. A pipeline pass runs
  each data test as a dbt node and reports it as a Dagster asset check, and per node dbt's own
  Python costs many times the query. With 63 single-column tests a small pass spent longer
  checking than building (docs/benchmarks.md).

  Rules (each a list of columns):
  - not_null, unique: as dbt's tests of those names (unique ignores NULLs);
  - finite, finite_non_negative: as this project's tests of those names;
  - ranks: the column holds exactly 1..n over the model's n rows;
  - accepted_values: a mapping column -> allowed values (NULLs pass, as in dbt's test).
-#}
{% test column_rules(model, not_null=[], unique=[], finite=[], finite_non_negative=[], ranks=[], accepted_values={}) %}
{%- set parts = [] -%}
{%- for column in not_null -%}
  {%- do parts.append(imoutotv_hot.column_rule_rows(model, column, 'not_null', column ~ ' is null')) -%}
{%- endfor -%}
{%- for column in finite -%}
  {%- do parts.append(imoutotv_hot.column_rule_rows(model, column, 'finite', imoutotv_hot.not_finite(column))) -%}
{%- endfor -%}
{%- for column in finite_non_negative -%}
  {%- do parts.append(imoutotv_hot.column_rule_rows(model, column, 'finite_non_negative', imoutotv_hot.negative_or_not_finite(column))) -%}
{%- endfor -%}
{%- for column, values in accepted_values.items() -%}
  {%- set allowed = [] -%}
  {%- for value in values -%}{%- do allowed.append(dbt.string_literal(value)) -%}{%- endfor -%}
  {%- do parts.append(imoutotv_hot.column_rule_rows(model, column, 'accepted_values', column ~ ' not in (' ~ allowed | join(', ') ~ ')')) -%}
{%- endfor -%}
{%- for column in unique -%}
  {%- do parts.append(imoutotv_hot.column_unique_rows(model, column)) -%}
{%- endfor -%}
{%- for column in ranks -%}
  {%- do parts.append(imoutotv_hot.column_ranks_rows(model, column)) -%}
{%- endfor -%}
{%- if not parts -%}
  {{ exceptions.raise_compiler_error("column_rules on " ~ model ~ " names no rule: it would check nothing") }}
{%- endif -%}
{{ parts | join('\nunion all\n') }}
{% endtest %}
