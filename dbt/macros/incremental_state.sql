{#-
  Incremental state tables keyed by a unique key (int_video_scores, fct_user_video_interactions).
  A model selects the rows of the keys a run touched (only those: its unit tests pin that);
  how they replace the stored rows is chosen per engine by the dbt target:

  - DuckDB (default): `delete+insert` on the unique key, in one transaction.
  - Spark, plain parquet tables (any Spark >= 3): no row delete, no merge. The table is
    partitioned by `state_bucket`, a hash bucket of the key (state_bucket_column), and a run
    overwrites just the buckets that hold a touched key with the touched rows plus the stored
    rows of the untouched keys of those buckets (`insert_overwrite` with dynamic partition
    overwrite; get_insert_overwrite_sql below). Spark writes a dynamic overwrite to a staging
    directory and swaps the partitions in at commit, so the run may read the table it
    overwrites (a static overwrite of the whole table may not).
  - Spark, Delta Lake tables (HOT_SPARK_TABLE_FORMAT=delta, the models' file_format in
    dbt_project.yml): `merge` on the unique key, one atomic commit per table: the touched rows
    update their stored row or are inserted; no buckets, no stage.
-#}

{# Whether the state tables are kept by `merge` (Spark on Delta Lake). Read from the
   environment, as dbt_project.yml's file_format is: a model's config() is evaluated at parse
   time, before its configuration can be read back. #}
{% macro spark_state_merges() -%}
  {{ return(env_var('HOT_SPARK_TABLE_FORMAT', 'parquet') | lower == 'delta') }}
{%- endmacro %}

{# The incremental strategy of a state table. #}
{% macro state_strategy() -%}
  {{ return(adapter.dispatch('state_strategy', 'imoutotv_hot')()) }}
{%- endmacro %}
{% macro default__state_strategy() -%}
  {{ return('delete+insert') }}
{%- endmacro %}
{% macro spark__state_strategy() -%}
  {{ return('merge' if imoutotv_hot.spark_state_merges() else 'insert_overwrite') }}
{%- endmacro %}


{# The partition columns of a state table (none where the engine replaces rows by key). #}
{% macro state_partition_by() -%}
  {{ return(adapter.dispatch('state_partition_by', 'imoutotv_hot')()) }}
{%- endmacro %}
{% macro default__state_partition_by() -%}
  {{ return(none) }}
{%- endmacro %}
{% macro spark__state_partition_by() -%}
  {{ return(none if imoutotv_hot.spark_state_merges() else ['state_bucket']) }}
{%- endmacro %}


{#
  The partition column, as the last item of a select list (with its leading comma), where the
  engine partitions state tables (Spark on parquet). var('spark_state_buckets') buckets of
  xxhash64(keys): a key never moves bucket, so a bucket holding a touched key always gets that
  key's new row.
#}
{% macro state_bucket_column(keys) -%}
  {{ return(adapter.dispatch('state_bucket_column', 'imoutotv_hot')(keys)) }}
{%- endmacro %}
{% macro default__state_bucket_column(keys) -%}{%- endmacro %}
{% macro spark__state_bucket_column(keys) -%}
  {%- if not imoutotv_hot.spark_state_merges() -%}
  , cast(pmod(xxhash64({{ keys | join(', ') }}), {{ var('spark_state_buckets') }}) as int)
    as state_bucket
  {%- endif -%}
{%- endmacro %}


{#
  dbt-spark's insert_overwrite SQL (the adapter calls this macro by name; the root project's
  definition wins). A model with a unique_key and partitions is a state table: the touched rows
  are first staged in a table (dbt-spark's source is a view of the model's query, which would
  otherwise be computed once per read below), then the buckets that hold a touched key are
  rewritten whole: the staged rows plus the stored rows of the untouched keys, distributed by
  bucket so that each bucket is written as one file. The staged table is dropped by the next
  run (state_drop_stage, a post-hook, drops it after a run that succeeded).
  Any other model keeps dbt-spark's statement.
#}
{% macro get_insert_overwrite_sql(source_relation, target_relation, existing_relation) -%}
  {%- set unique_key = config.get('unique_key') -%}
  {%- if not (unique_key and config.get('partition_by')) -%}
    {{ return(dbt.get_insert_overwrite_sql(source_relation, target_relation, existing_relation)) }}
  {%- endif -%}
  {%- set keys = [unique_key] if unique_key is string else unique_key -%}
  {%- set staged = imoutotv_hot.state_stage_relation(target_relation) -%}
  {%- do run_query('drop table if exists ' ~ staged) -%}
  {%- do run_query('create table ' ~ staged ~ ' using parquet as select * from ' ~ source_relation) -%}
  {%- set cols = adapter.get_columns_in_relation(target_relation) | map(attribute='quoted') | join(', ') -%}
  insert overwrite table {{ target_relation }}
  {{ partition_cols(label="partition") }}
  select {{ cols }}
  from (
      select {{ cols }} from {{ staged }}
      union all
      select {{ cols }}
      from {{ target_relation }} as stored
      where stored.state_bucket in (select state_bucket from {{ staged }})
        and not exists (
            select 1
            from {{ staged }} as touched
            where {% for k in keys %}touched.{{ k }} = stored.{{ k }}{% if not loop.last %} and {% endif %}{% endfor %}
        )
  ) as rows_of_touched_buckets
  distribute by state_bucket
{%- endmacro %}


{# The table a run stages a state table's touched rows in (Spark). #}
{% macro state_stage_relation(relation) -%}
  {{ return(relation.incorporate(path={"identifier": relation.identifier ~ '__dbt_staged'})) }}
{%- endmacro %}


{# Post-hook of a state table: drop the stage of this run, where the engine stages. #}
{% macro state_drop_stage() -%}
  {{ return(adapter.dispatch('state_drop_stage', 'imoutotv_hot')()) }}
{%- endmacro %}
{% macro default__state_drop_stage() -%}{%- endmacro %}
{% macro spark__state_drop_stage() -%}
  {%- if not imoutotv_hot.spark_state_merges() -%}
  drop table if exists {{ imoutotv_hot.state_stage_relation(this) }}
  {%- endif -%}
{%- endmacro %}
