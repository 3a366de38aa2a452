{#-
  Landing-file ingest in the engine (SPEC §2). The ingest asset renders these macros once per
  manifest version (`hot_ingest_statements`) and runs the statements for each file, with the
  file's values bound as query parameters; the writes of a file share one transaction.

  A file goes through these relations:
    lines      (dispatched: `hot_ingest_lines`, a temporary table) line_no, line (NULL when
               not UTF-8), raw, n_bytes
    fields     (dispatched: `hot_ingest_fields`) + is_json, root_kind and, per field f,
               f__kind ('missing' | 'null' | 'string' | 'number' | 'boolean' | 'object' |
               'array') and f__text
    stage      (shared, a temporary table) per line: the first failed check (one reason code
               per CASE branch, NULL when valid), its detail, the raw line, the typed columns
    duplicates (shared, a temporary table) line numbers of valid lines whose event_id was
               seen first (earlier in raw.events, or on an earlier line of the file)
  so quarantine, duplicates and the per-file counts are set operations. A range of Kafka
  messages (SPEC §2b) goes the same way from `lines` on: `hot_ingest_message_lines` makes them
  of a relation of (offset, value) rows, the offset as line_no. A twin for another
  engine implements the dispatched parts: `hot_param`, `hot_ingest_lines`, `hot_ingest_byte_lines`,
  `hot_ingest_message_lines`, `hot_ingest_kafka_source` (where the engine reads Kafka itself),
  `hot_ingest_fields`, `hot_parse_rfc3339`, `hot_octets`, `hot_blank`, `hot_intdiv`,
  `hot_create_temp_table` and `hot_ingest_insert`. The `spark__` twins (SPEC §9) read the file
  with Spark itself (`binaryFile`, split on line feeds: a line's number is its position in the
  file, not an order Spark happens to read in) and parse JSON as a VARIANT.
-#}

{#- The sources and their fields, in the order the checks run (the first failure wins). -#}
{% macro hot_ingest_sources() %}
  {%- set id = {'check': 'string', 'required': true, 'max_len': 128} -%}
  {%- set text = {'check': 'string', 'required': true, 'max_len': 2048} -%}
  {%- set opt_text = {'check': 'string', 'required': false, 'max_len': 2048} -%}
  {{ return({
    'events': {
      'table': 'events',
      'fields': [
        ('event_id', id),
        ('type', {'check': 'enum', 'values': ['like', 'watch', 'comment', 'share'],
                  'reason': 'unknown_event_type'}),
        ('video_id', id),
        ('user_id', id),
        ('occurred_at', {'check': 'timestamp', 'required': true, 'future': true}),
        ('watch_time_sec', {'check': 'watch'}),
      ],
      'dedupe_on': 'event_id',
    },
    'videos': {
      'table': 'videos',
      'fields': [
        ('video_id', id),
        ('title', text),
        ('thumbnail_url', opt_text),
        ('creator_id', id),
        ('published_at', {'check': 'timestamp', 'required': false}),
      ],
    },
    'creators': {
      'table': 'creators',
      'fields': [('creator_id', id), ('name', text), ('avatar_url', opt_text)],
    },
    'moderation': {
      'table': 'moderation',
      'fields': [
        ('video_id', id),
        ('status', {'check': 'enum', 'values': ['approved', 'pending_review', 'restricted',
                    'removed'], 'reason': 'invalid_status'}),
        ('decided_at', {'check': 'timestamp', 'required': true}),
        ('reason', opt_text),
      ],
    },
  }) }}
{% endmacro %}


{#- A bound query parameter (`$name` on DuckDB, `:name` on Spark SQL). -#}
{% macro hot_param(name) -%}
  {{ return(adapter.dispatch('hot_param', 'imoutotv_hot')(name)) }}
{%- endmacro %}
{% macro default__hot_param(name) -%}:{{ name }}{%- endmacro %}
{% macro duckdb__hot_param(name) -%}${{ name }}{%- endmacro %}


{#-
  The lines of the file at parameter `path`: line_no (1-based), line (the text without its
  line ending, NULL when it is not valid UTF-8; a UTF-8 BOM opening the file is dropped), raw
  (the printable text of a line that is not UTF-8, else NULL) and n_bytes. A final line ending
  does not open an empty last line. `format` is 'jsonl' or 'parquet' (a row is its JSON object).
-#}
{% macro hot_ingest_lines(format) -%}
  {{ return(adapter.dispatch('hot_ingest_lines', 'imoutotv_hot')(format)) }}
{%- endmacro %}
{#- No twin yet for other engines; dbt parse resolves every dispatch, so this one must exist. -#}
{% macro default__hot_ingest_lines(format) -%}
  {{ exceptions.raise_compiler_error('no landing-file ingest SQL for ' ~ adapter.type()) }}
{%- endmacro %}

{% macro duckdb__hot_ingest_lines(format) -%}
{%- if format == 'parquet' %}
    -- A row's JSON object; naive parquet timestamps are UTC (to_json writes them without an
    -- offset, so one is added).
    select line_no, line, null :: varchar as raw, strlen(line) as n_bytes
    from (
        select file_row_number + 1 as line_no,
               regexp_replace(
                   json_remove(to_json(p), '$.file_row_number') :: varchar,
                   '"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?)"', '"\1Z"', 'g'
               ) as line
        from read_parquet({{ hot_param('path') }}, file_row_number = true) p
    )
{%- else %}
    -- A file that is UTF-8 as a whole (the usual case) is split as text. decode() raises on
    -- any other file, which the ingest then hands over as lines of bytes (`hot_ingest_byte_lines`).
    select line_no, line, null :: varchar as raw, strlen(line) as n_bytes
    from (
        select line_no, {{ _hot_trim_line('part') }} as line
        from (
            select unnest(s) as part, generate_subscripts(s, 1) as line_no, len(s) as n
            from (
                select string_split(decode(content), chr(10)) as s
                from read_blob({{ hot_param('path') }})
            )
        )
        -- The text after a final newline is not a line.
        where not (line_no = n and part = '')
    )
{%- endif %}
{%- endmacro %}

{#-
  The lines of a landing file that the ingest hands over as `hot_ingest_file_relation`
  (line_no, value: the line's bytes with the line feed that ends it), as `hot_ingest_lines`
  gives them: each line is decoded on its own. DuckDB's `hot_ingest_lines` takes the files
  that are UTF-8 as a whole, this the others (a split of bytes keeps every line's number and
  bytes). Empty where `hot_ingest_lines` reads every file itself (Spark).
-#}
{% macro hot_ingest_byte_lines() -%}
  {{ return(adapter.dispatch('hot_ingest_byte_lines', 'imoutotv_hot')()) }}
{%- endmacro %}
{% macro default__hot_ingest_byte_lines() -%}{%- endmacro %}
{% macro duckdb__hot_ingest_byte_lines() -%}
    select line_no, line, raw, strlen(coalesce(line, raw)) as n_bytes
    from (
        select line_no,
               {{ _hot_trim_line('text') }} as line,
               case when text is null
                    then {{ _hot_trim_line("decode(" ~ _hot_duckdb_drop_feed('value')
                                           ~ ", 'replace')") }} end as raw
        from (
            -- Each value ends with its line feed, the last character of its text.
            select line_no, value, left({{ _hot_duckdb_utf8('value') }}, -1) as text
            from {{ hot_ingest_file_relation() }}
        )
    )
{%- endmacro %}

{#-
  Bytes without the line feed that ends them. A BLOB has no substring, but its cast to text
  writes each byte that is not printable ASCII as \xNN (the feed: the last four characters),
  and the cast back reads them. decode 'replace' of the bytes with their feed would not do:
  it may take the feed, and the bytes before it, into the '?'s of an invalid sequence.
-#}
{% macro _hot_duckdb_drop_feed(value) -%}
    cast(left(cast({{ value }} as varchar), -4) as blob)
{%- endmacro %}

{#-
  The lines of a range of Kafka messages in `relation` (columns offset, value: the message's
  bytes, NULL for a message without a value), as `hot_ingest_lines` gives a file's: a message
  is one line, its offset the line_no.
-#}
{% macro hot_ingest_message_lines(relation) -%}
  {{ return(adapter.dispatch('hot_ingest_message_lines', 'imoutotv_hot')(relation)) }}
{%- endmacro %}
{% macro default__hot_ingest_message_lines(relation) -%}
  {{ exceptions.raise_compiler_error('no Kafka ingest SQL for ' ~ adapter.type()) }}
{%- endmacro %}

{#-
  A statement that makes `relation` the messages of the Kafka range at parameters topic,
  partition, start_offset and end_offset, read by the engine itself from kafka_bootstrap
  (kafka_assign, kafka_starting and kafka_ending: the range as Spark's options spell it). Empty
  where the ingest reads the range with a client and hands the engine its rows (DuckDB).
-#}
{% macro hot_ingest_kafka_source(relation) -%}
  {{ return(adapter.dispatch('hot_ingest_kafka_source', 'imoutotv_hot')(relation)) }}
{%- endmacro %}
{% macro default__hot_ingest_kafka_source(relation) -%}{%- endmacro %}

{% macro duckdb__hot_ingest_message_lines(relation) -%}
    select line_no, line,
           case when line is null then decode(value, 'replace') end as raw,
           octet_length(value) as n_bytes
    from (
        select line_no, value, {{ _hot_duckdb_utf8('value') }} as line
        from (
            select "offset" as line_no, coalesce(value, '' :: blob) as value from {{ relation }}
        )
    )
{%- endmacro %}


{#-
  The text of bytes that are UTF-8, else NULL. 'ignore' drops the bytes that are not UTF-8, so
  the bytes are UTF-8 when none was dropped; this raises nothing (try() of a failing decode
  would evaluate its whole chunk again row by row).
-#}
{% macro _hot_duckdb_utf8(value) -%}
    case when strlen(decode({{ value }}, 'ignore')) = octet_length({{ value }})
         then decode({{ value }}, 'ignore') end
{%- endmacro %}


{#- Without a carriage return before the newline, and without the BOM opening the file. -#}
{% macro _hot_trim_line(text) -%}
    case when line_no = 1 and starts_with({{ text }}, chr(65279))
         then {{ _hot_rtrim_cr('substr(' ~ text ~ ', 2)') }}
         else {{ _hot_rtrim_cr(text) }} end
{%- endmacro %}
{% macro _hot_rtrim_cr(text) -%}
    case when ends_with({{ text }}, chr(13)) then rtrim({{ text }}, chr(13)) else {{ text }} end
{%- endmacro %}


{#-
  `lines` plus is_json (the line is one JSON value, without trailing commas), root_kind, and
  <field>__kind / <field>__text for each of `names` (a number's text as written).
-#}
{% macro hot_ingest_fields(lines, names) -%}
  {{ return(adapter.dispatch('hot_ingest_fields', 'imoutotv_hot')(lines, names)) }}
{%- endmacro %}
{% macro default__hot_ingest_fields(lines, names) -%}
  {{ exceptions.raise_compiler_error('no landing-file ingest SQL for ' ~ adapter.type()) }}
{%- endmacro %}

{% macro duckdb__hot_ingest_fields(lines, names) -%}
{%- set paths = [] -%}
{%- for name in names %}{% do paths.append("'$." ~ name ~ "'") %}{% endfor -%}
    select *,
           {{ _hot_duckdb_kind("case when is_json then left(ltrim(line, ' ' || chr(9) || chr(10) || chr(13)), 1) end") }} as root_kind
           {%- for name in names %},
           {{ _hot_duckdb_kind('values[' ~ loop.index ~ ']') }} as {{ name }}__kind,
           {{ _hot_duckdb_text('values[' ~ loop.index ~ ']') }} as {{ name }}__text
           {%- endfor %}
    from (
        -- One parse of the line for every field: each field's value as JSON text (as text:
        -- DuckDB's JSON type would parse a string's characters again as JSON).
        select *,
               case when is_json
                    then json_extract(line, [{{ paths | join(', ') }}]) :: varchar[] end as values
        from (
            select *,
                   case when n_bytes <= {{ hot_ingest_max_line_bytes() }} and json_valid(line)
                        -- DuckDB's parser also takes trailing commas: a line with one outside
                        -- its strings is not JSON (NaN and Infinity: see hot_ingest_checks).
                        then case when regexp_matches(line, ',\s*[\]}]')
                                  then not regexp_matches(
                                      regexp_replace(line, '"(?:[^"\\]|\\.)*"', '""', 'g'),
                                      ',\s*[\]}]')
                                  else true end
                        else false end as is_json
            from {{ lines }}
        )
    )
{%- endmacro %}

{#- The kind of a JSON value from its text (NULL: 'missing'). -#}
{% macro _hot_duckdb_kind(json) -%}
    case when {{ json }} is null then 'missing'
         else case left({{ json }}, 1) when '"' then 'string' when '{' then 'object'
              when '[' then 'array' when 't' then 'boolean' when 'f' then 'boolean'
              when 'n' then 'null' else 'number' end end
{%- endmacro %}

{#- The text of a JSON value: a string's characters, a number as written; NULL for null. The
    parser writes a string back with escapes only where JSON needs them. -#}
{% macro _hot_duckdb_text(json) -%}
    case when left({{ json }}, 1) = '"'
         then case when contains({{ json }}, '\') then json_extract_string({{ json }}, '$')
                   else {{ json }}[2:-2] end
         when {{ json }} = 'null' then null
         else {{ json }} end
{%- endmacro %}


{#- UTC timestamp of an RFC 3339 text with an offset, or NULL when it is not one. -#}
{% macro hot_parse_rfc3339(text) -%}
  {{ return(adapter.dispatch('hot_parse_rfc3339', 'imoutotv_hot')(text)) }}
{%- endmacro %}
{% macro default__hot_parse_rfc3339(text) -%}
  {{ exceptions.raise_compiler_error('no landing-file ingest SQL for ' ~ adapter.type()) }}
{%- endmacro %}

{% macro duckdb__hot_parse_rfc3339(text) -%}
    case when regexp_full_match(
                  {{ text }},
                  '\s*\d{4}-\d\d-\d\d[Tt ]([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?([Zz]|[+-]([01]\d|2[0-3])(:?[0-5]\d)?)\s*')
         -- The cast takes the offset, a T, a Z and white space around; it rejects 30 February.
         then make_timestamp(epoch_us(try_cast(
                  case when contains({{ text }}, 't') or contains({{ text }}, 'z')
                       then upper({{ text }})
                       else {{ text }} end
                  as timestamptz)))
    end
{%- endmacro %}


{#- The length of a text in bytes (UTF-8). -#}
{% macro hot_octets(text) -%}
  {{ return(adapter.dispatch('hot_octets', 'imoutotv_hot')(text)) }}
{%- endmacro %}
{% macro default__hot_octets(text) -%}octet_length({{ text }}){%- endmacro %}
{% macro duckdb__hot_octets(text) -%}strlen({{ text }}){%- endmacro %}


{#- True when a line is empty or only white space (as Python's bytes.strip() sees it). -#}
{% macro hot_blank(text) -%}
  {{ return(adapter.dispatch('hot_blank', 'imoutotv_hot')(text)) }}
{%- endmacro %}
{% macro default__hot_blank(text) -%}
    {{ text }} = '' or regexp_like({{ text }}, '^[ \t\n\x0b\x0c\r]+$')
{%- endmacro %}
{% macro duckdb__hot_blank(text) -%}
    {#- trim() with a character set is slow: only lines that start with white space try it. #}
    {{ text }} = '' or (ascii({{ text }}) in (9, 10, 11, 12, 13, 32)
                        and trim({{ text }}, ' ' || chr(9) || chr(10) || chr(11) || chr(12)
                                 || chr(13)) = '')
{%- endmacro %}


{#- The operator of integer division. -#}
{% macro hot_intdiv() -%}
  {{ return(adapter.dispatch('hot_intdiv', 'imoutotv_hot')()) }}
{%- endmacro %}
{% macro default__hot_intdiv() -%}//{%- endmacro %}
{% macro spark__hot_intdiv() -%}div{%- endmacro %}


{% macro hot_ingest_max_line_bytes() %}1048576{% endmacro %}
{% macro hot_ingest_raw_keep_bytes() %}4096{% endmacro %}
{% macro hot_ingest_future_tolerance_sec() %}300{% endmacro %}


{#-
  The checks of one source as (condition, reason, detail) in the order they run: the line, then
  each field in turn. Conditions read the columns of `hot_ingest_fields` and `<field>__ts`.
-#}
{% macro hot_ingest_checks(source) %}
  {%- set spec = hot_ingest_sources()[source] -%}
  {%- set absent = "in ('missing', 'null')" -%}
  {%- set checks = [
    (hot_blank('line'), 'empty_line', "''"),
    ("n_bytes > " ~ hot_ingest_max_line_bytes(), 'line_too_long',
     "cast(n_bytes as " ~ dbt.type_string() ~ ") || ' bytes > " ~ hot_ingest_max_line_bytes() ~ "'"),
    ("line is null", 'invalid_utf8', "'not valid UTF-8'"),
    ("not is_json", 'invalid_json', "'not valid JSON'"),
    (_hot_nonfinite(spec['fields'] | map('first') | list), 'invalid_json',
     "'a number that is not finite'"),
    ("root_kind <> 'object'", 'not_an_object', "root_kind"),
  ] -%}
  {%- for name, rule in spec['fields'] -%}
    {%- set kind = name ~ '__kind' -%}
    {%- set txt = name ~ '__text' -%}
    {%- if rule['check'] == 'string' -%}
      {%- if rule['required'] -%}
        {%- do checks.append((kind ~ ' ' ~ absent, 'missing_field', "'" ~ name ~ "'")) -%}
      {%- endif -%}
      {%- do checks.append((kind ~ " not in ('missing', 'null', 'string')", 'invalid_field',
                            "'" ~ name ~ ": expected string'")) -%}
      {%- if rule['required'] -%}
        {%- do checks.append((txt ~ " = ''", 'invalid_field', "'" ~ name ~ ": empty'")) -%}
      {%- endif -%}
      {%- do checks.append((hot_octets(txt) ~ " > " ~ rule['max_len'] ~ " and length(" ~ txt
                            ~ ") > " ~ rule['max_len'], 'invalid_field',
                            "'" ~ name ~ ": longer than " ~ rule['max_len'] ~ "'")) -%}
    {%- elif rule['check'] == 'enum' -%}
      {%- do checks.append((kind ~ ' ' ~ absent, 'missing_field', "'" ~ name ~ "'")) -%}
      {%- do checks.append(("not (" ~ kind ~ " = 'string' and " ~ txt ~ " in ('"
                            ~ rule['values'] | join("', '") ~ "'))", rule['reason'],
                            "left(" ~ txt ~ ", 64)")) -%}
    {%- elif rule['check'] == 'timestamp' -%}
      {%- if rule['required'] -%}
        {%- do checks.append((kind ~ ' ' ~ absent, 'missing_field', "'" ~ name ~ "'")) -%}
      {%- endif -%}
      {%- do checks.append((kind ~ " not in ('missing', 'null') and " ~ name ~ "__ts is null",
                            'invalid_timestamp',
                            "'" ~ name ~ ": not an RFC 3339 timestamp with an offset'")) -%}
      {%- if rule.get('future') -%}
        {%- do checks.append((name ~ "__ts > " ~ hot_param('now') ~ " + interval '"
                              ~ hot_ingest_future_tolerance_sec() ~ " seconds'",
                              'future_timestamp',
                              "'" ~ name ~ " more than 5 minutes ahead'")) -%}
      {%- endif -%}
    {%- elif rule['check'] == 'watch' -%}
      {#- watch_time_sec: required for `watch` events, ignored otherwise. -#}
      {%- set is_watch = "type__text = 'watch' and " -%}
      {%- do checks.append((is_watch ~ kind ~ ' ' ~ absent, 'missing_field', "'" ~ name ~ "'")) -%}
      {%- do checks.append((is_watch ~ kind ~ " <> 'number'", 'invalid_watch_time',
                            "'not a number'")) -%}
      {%- do checks.append((is_watch ~ "not (" ~ name ~ "__num >= 0 and "
                            ~ name ~ "__num < cast('Infinity' as " ~ type_double() ~ "))",
                            'invalid_watch_time', "'must be finite and >= 0'")) -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(checks) }}
{% endmacro %}


{#- A prefix of `text` of at most `n` bytes, by removing a character per byte over. -#}
{% macro _hot_left_bytes(text, n) -%}
    left({{ text }}, length({{ text }}) - greatest({{ hot_octets(text) }} - {{ n }}, 0))
{%- endmacro %}


{#-
  True when the line, or one of `names`, is a number that is not finite: NaN, Infinity or
  out of range. JSON has none; a lenient parser (DuckDB's) reads them.
-#}
{% macro _hot_nonfinite(names) -%}
  {%- set terms = [] -%}
  {%- set inf = "cast('Infinity' as " ~ type_double() ~ ")" -%}
  {%- for name in ['line'] + names -%}
    {%- set kind = 'root_kind' if name == 'line' else name ~ '__kind' -%}
    {%- set txt = 'trim(line)' if name == 'line' else name ~ '__text' -%}
    {%- do terms.append("(" ~ kind ~ " = 'number' and not (abs(try_cast(" ~ txt ~ " as "
                        ~ type_double() ~ ")) < " ~ inf ~ "))") -%}
  {%- endfor -%}
  {{ return(terms | join(' or ')) }}
{%- endmacro %}


{#-
  The validated lines of one source: line_no, ingest_reason and ingest_detail (NULL when
  valid), ingest_raw_line (of a quarantined line, at most 4 KiB) and the typed columns of the raw table.
-#}
{% macro hot_ingest_checked(source) %}
  {%- set spec = hot_ingest_sources()[source] -%}
  {%- set names = spec['fields'] | map('first') | list -%}
  {%- set checks = hot_ingest_checks(source) -%}
  {%- set keep = hot_ingest_raw_keep_bytes() -%}
    with fields as (
        {{ hot_ingest_fields(hot_ingest_lines_relation(), names) }}
    ),
    typed as (
        select *
        {%- for name, rule in spec['fields'] %}
          {%- if rule['check'] == 'timestamp' %},
            case when {{ name }}__kind = 'string'
                 then {{ hot_parse_rfc3339(name ~ '__text') }} end as {{ name }}__ts
          {%- elif rule['check'] == 'watch' %},
            case when {{ name }}__kind = 'number'
                 then try_cast({{ name }}__text as {{ type_double() }}) end as {{ name }}__num
          {%- endif %}
        {%- endfor %}
        from fields
    ),
    checked as (
        select *,
               case {%- for cond, reason, detail in checks %}
                   when {{ cond }} then {{ loop.index }}
               {%- endfor %}
               end as failed_check
        from typed
    )
    select line_no,
           case failed_check {%- for cond, reason, detail in checks %}
               when {{ loop.index }} then '{{ reason }}' {%- endfor %}
           end as ingest_reason,
           case failed_check {%- for cond, reason, detail in checks %}
               when {{ loop.index }} then {{ detail }} {%- endfor %}
           end as ingest_detail,
           -- Of a quarantined line: at most 4 KiB, cut between characters: as many as fit at
           -- the bytes per character of the line's head, less one per byte still over.
           case when failed_check is null then null
                when n_bytes <= {{ keep }} then coalesce(raw, line)
                else {{ _hot_left_bytes('left(coalesce(raw, line), ' ~ keep ~ ' * ' ~ keep
                                        ~ ' ' ~ hot_intdiv() ~ ' ' ~ hot_octets(
                                            'left(coalesce(raw, line), ' ~ keep ~ ')') ~ ')',
                                        keep) }}
           end as ingest_raw_line
           {%- for name, rule in spec['fields'] %},
           {%- if rule['check'] == 'timestamp' %}
           {{ name }}__ts as {{ name }}
           {%- elif rule['check'] == 'watch' %}
           case when type__text = 'watch' then {{ name }}__num end as {{ name }}
           {%- else %}
           {{ name }}__text as {{ name }}
           {%- endif %}
           {%- endfor %}
    from checked
{% endmacro %}


{#- Temporary tables of the file being ingested: its lines, its stage, its duplicates. -#}
{% macro hot_ingest_lines_relation() %}hot_ingest_lines{% endmacro %}
{#- The lines of a landing file, as the ingest hands them over (`hot_ingest_byte_lines`). -#}
{% macro hot_ingest_file_relation() %}hot_ingest_file{% endmacro %}
{#- The messages of the Kafka range being ingested, as the ingest hands them over. -#}
{% macro hot_ingest_messages_relation() %}hot_ingest_messages{% endmacro %}
{% macro hot_ingest_stage_relation() %}hot_ingest_stage{% endmacro %}
{% macro hot_ingest_duplicates_relation() %}hot_ingest_duplicates{% endmacro %}

{#- Create (or replace) a temporary table from a SELECT. -#}
{% macro hot_create_temp_table(relation, select_sql) -%}
  {{ return(adapter.dispatch('hot_create_temp_table', 'imoutotv_hot')(relation, select_sql)) }}
{%- endmacro %}
{% macro default__hot_create_temp_table(relation, select_sql) -%}
    create or replace temporary table {{ relation }} as {{ select_sql }}
{%- endmacro %}
{#- A parquet table, dropped after the batch (and before one, in case a killed one left it):
    a plain view would be computed again by each statement that reads it, and a cached one
    keeps its whole plan, which Spark analyses again in every statement that reads it. -#}
{% macro spark__hot_create_temp_table(relation, select_sql) -%}
    create table {{ relation }} using parquet as {{ select_sql }}
{%- endmacro %}


{#-
  Append the rows of one batch to raw.`table`: `values` is a list of (column, expression)
  over `relation`, filtered by `where`.
-#}
{% macro hot_ingest_insert(table, values, relation, where) -%}
  {{ return(adapter.dispatch('hot_ingest_insert', 'imoutotv_hot')(table, values, relation, where)) }}
{%- endmacro %}
{% macro default__hot_ingest_insert(table, values, relation, where) -%}
    insert into raw.{{ table }} ({{ values | map('first') | join(', ') }})
    select {{ values | map('last') | join(', ') }} from {{ relation }} where {{ where }}
{%- endmacro %}
{#- On Spark the batch's own partition is overwritten: a retried batch replaces what a failed
    one wrote (hot/warehouse/spark.py: SparkWarehouse). -#}
{% macro spark__hot_ingest_insert(table, values, relation, where) -%}
  {%- set kept = [] -%}
  {%- for column, expr in values if column != 'batch_id' %}{% do kept.append((column, expr)) %}{% endfor -%}
    insert overwrite table raw.{{ table }} partition (batch_id = {{ hot_param('batch_id') }})
    ({{ kept | map('first') | join(', ') }})
    select {{ kept | map('last') | join(', ') }} from {{ relation }} where {{ where }}
{%- endmacro %}


{#- The stage: the validated lines of one file (`hot_ingest_checked`). -#}
{% macro hot_ingest_stage_sql(source) %}
  {{ return(hot_create_temp_table(hot_ingest_stage_relation(), hot_ingest_checked(source))) }}
{% endmacro %}


{#-
  The line numbers of the stage's duplicates. Events are deduplicated on event_id: the first
  valid line of an id in the file wins, unless raw.events already has the id. Other sources
  keep every valid line (the latest wins downstream).
-#}
{% macro hot_ingest_duplicates_sql(source) %}
  {%- set spec = hot_ingest_sources()[source] -%}
  {%- set key = spec.get('dedupe_on') -%}
  {%- set stage = hot_ingest_stage_relation() -%}
  {%- set select_sql -%}
  {%- if key %}
    with valid as (
        select line_no, {{ key }} from {{ stage }} where ingest_reason is null
    )
    select line_no from valid
    where {{ key }} in (select {{ key }} from raw.{{ spec['table'] }})
    union
    -- Ids on several valid lines of this file (few: a grouping, not a sort of the file).
    select v.line_no
    from valid v
    join (
        select {{ key }}, min(line_no) as first_line
        from valid group by {{ key }} having count(*) > 1
    ) r on r.{{ key }} = v.{{ key }} and v.line_no > r.first_line
  {%- else %}
    select line_no from {{ stage }} where false
  {%- endif %}
  {%- endset -%}
  {{ return(hot_create_temp_table(hot_ingest_duplicates_relation(), select_sql)) }}
{% endmacro %}


{#-
  Every statement of the ingest, by name, as a JSON object: `<format>.lines` (jsonl, parquet,
  messages), `bytes.lines` (maybe empty), `messages.source` (`hot_ingest_kafka_source`, maybe empty), `<source>.stage`,
  `<source>.duplicates`, `<source>.insert`, `quarantine`, `ledger`, `ranges` (the Kafka
  ledger), `report` and `drop` (a list). Their parameters: path, file, source, batch_id,
  ingested_at, now; topic, topic_id, partition, start_offset, end_offset, kafka_bootstrap,
  kafka_assign, kafka_starting, kafka_ending.
-#}
{% macro hot_ingest_statements() %}
  {%- set stage = hot_ingest_stage_relation() -%}
  {%- set dups = hot_ingest_duplicates_relation() -%}
  {%- set is_dup = "line_no in (select line_no from " ~ dups ~ ")" -%}
  {%- set lineage = [('batch_id', hot_param('batch_id')), ('source_file', hot_param('file')),
                     ('line_no', 'line_no'), ('ingested_at', hot_param('ingested_at'))] -%}
  {%- set out = {} -%}
  {%- for format in ['jsonl', 'parquet'] -%}
    {%- do out.update({format ~ '.lines': hot_create_temp_table(
        hot_ingest_lines_relation(), hot_ingest_lines(format))}) -%}
  {%- endfor -%}
  {%- set byte_lines = hot_ingest_byte_lines() | trim -%}
  {%- do out.update({'bytes.lines': hot_create_temp_table(hot_ingest_lines_relation(), byte_lines)
                                    if byte_lines else ''}) -%}
  {%- do out.update({'messages.source': hot_ingest_kafka_source(hot_ingest_messages_relation()),
                    'messages.lines': hot_create_temp_table(
      hot_ingest_lines_relation(), hot_ingest_message_lines(hot_ingest_messages_relation()))}) -%}
  {%- for source, spec in hot_ingest_sources().items() -%}
    {%- set cols = [] -%}
    {%- for name in spec['fields'] | map('first') %}{% do cols.append((name, name)) %}{% endfor -%}
    {%- do out.update({
      source ~ '.stage': hot_ingest_stage_sql(source),
      source ~ '.duplicates': hot_ingest_duplicates_sql(source),
      source ~ '.insert': hot_ingest_insert(spec['table'], cols + lineage, stage,
                                             "ingest_reason is null and not " ~ is_dup),
    }) -%}
  {%- endfor -%}
  {%- do out.update({
    'quarantine': hot_ingest_insert('quarantine', [
        ('source', hot_param('source')), ('source_file', hot_param('file')),
        ('line_no', 'line_no'), ('reason', 'ingest_reason'), ('detail', 'ingest_detail'),
        ('raw_line', 'ingest_raw_line'), ('batch_id', hot_param('batch_id')),
        ('ingested_at', hot_param('ingested_at'))], stage, "ingest_reason is not null"),
    'ledger': "insert into raw.ingested_files select " ~ hot_param('file') ~ ", "
        ~ hot_param('source') ~ ", " ~ hot_param('batch_id') ~ ", lines_read, "
        ~ "lines_read - quarantined - duplicates, duplicates, quarantined, "
        ~ hot_param('ingested_at') ~ " from (select count(*) as lines_read, "
        ~ "coalesce(sum(case when ingest_reason is not null then 1 else 0 end), 0) "
        ~ "as quarantined, (select count(*) from " ~ dups ~ ") as duplicates from "
        ~ stage ~ ") counts",
    'ranges': hot_ingest_insert('ingested_ranges', [
        ('topic', hot_param('topic')), ('topic_id', hot_param('topic_id')),
        ('partition', hot_param('partition')), ('start_offset', hot_param('start_offset')),
        ('end_offset', hot_param('end_offset')), ('source_file', hot_param('file')),
        ('batch_id', hot_param('batch_id')), ('ingested_at', hot_param('ingested_at'))],
        '(select 1 as one) range_row', 'true'),
    'report': "select ingest_reason, count(*) from " ~ stage
        ~ " where ingest_reason is not null group by ingest_reason order by ingest_reason",
    'drop': ["drop table if exists " ~ hot_ingest_lines_relation(),
             "drop table if exists " ~ stage, "drop table if exists " ~ dups],
  }) -%}
  {{ return(tojson(out)) }}
{% endmacro %}


{#-
  The Spark twins (SPEC §9): the same relations and columns as the DuckDB ones. Backslashes are
  doubled inside literals: Spark SQL unescapes a literal before the regex sees it.
-#}

{#-
  A file is read whole as bytes (`binaryFile`) and split on line feeds, so a line's number is
  its position in the file. A file that is valid UTF-8 (the usual case) is split as text;
  otherwise as hex pairs (each followed by a space, so '0A ' only matches a whole byte) and
  each line is decoded on its own.
-#}
{% macro spark__hot_ingest_lines(format) -%}
{%- if format == 'parquet' %}
    -- A row's JSON object, nulls kept; naive parquet timestamps are UTC.
    select line_no, line, cast(null as string) as raw, octet_length(line) as n_bytes
    from (
        select _metadata.row_index + 1 as line_no,
               to_json(struct(*), map(
                   'timestampFormat', 'yyyy-MM-dd\'T\'HH:mm:ss.SSSSSSXXX',
                   'timestampNTZFormat', 'yyyy-MM-dd\'T\'HH:mm:ss.SSSSSS\'Z\'',
                   'ignoreNullFields', 'false')) as line
        from parquet.`{{ hot_param('path') }}`
    ) p
{%- else %}
    with f as (
        select content, cast(content as string) as s, is_valid_utf8(cast(content as string)) as is_text
        from binaryFile.`{{ hot_param('path') }}`
    ),
    parts as (
        select pos + 1 as line_no, part, size(p) as n, is_text
        from (
            select case when is_text then split(s, '\\n', -1)
                        else split(regexp_replace(hex(content), '(..)', '$1 '), '0A ', -1) end as p,
                   is_text
            from f
        ) x
        lateral view posexplode(p) t as pos, part
    ),
    decoded as (
        select line_no,
               case when is_text then part
                    else cast(unhex(replace(part, ' ', '')) as string) end as text
        from parts
        -- The text after a final newline is not a line.
        where not (line_no = n and part = '')
    ),
    trimmed as (
        select line_no,
               {{ _hot_spark_trim_line('case when is_valid_utf8(text) then text end') }} as line,
               {{ _hot_spark_trim_line("case when not is_valid_utf8(text) then "
                                       ~ _hot_spark_printable('text') ~ " end") }} as raw
        from decoded
    )
    select line_no, line, raw, octet_length(coalesce(line, raw)) as n_bytes from trimmed
{%- endif %}
{%- endmacro %}

{#- The text of bytes that are not UTF-8, a '?' for each invalid byte (as DuckDB's decode). -#}
{% macro _hot_spark_printable(text) -%}
    replace(make_valid_utf8({{ text }}), '\uFFFD', '?')
{%- endmacro %}

{#- Without the carriage returns before the newline, and without the BOM opening the file. -#}
{% macro _hot_spark_trim_line(text) -%}
    regexp_replace(case when line_no = 1 and startswith({{ text }}, '\uFEFF')
                        then substr({{ text }}, 2) else {{ text }} end, '\\r+\\z', '')
{%- endmacro %}


{#- Spark's own Kafka source, a batch read of the range (offsets per partition as JSON). -#}
{% macro spark__hot_ingest_kafka_source(relation) -%}
    create or replace temporary view {{ relation }} using kafka options (
        'kafka.bootstrap.servers' = {{ hot_param('kafka_bootstrap') }},
        'assign' = {{ hot_param('kafka_assign') }},
        'startingOffsets' = {{ hot_param('kafka_starting') }},
        'endingOffsets' = {{ hot_param('kafka_ending') }})
{%- endmacro %}

{% macro spark__hot_ingest_message_lines(relation) -%}
    select line_no, case when is_valid_utf8(text) then text end as line,
           case when not is_valid_utf8(text) then {{ _hot_spark_printable('text') }} end as raw,
           octet_length(text) as n_bytes
    from (
        select `offset` as line_no, cast(coalesce(value, X'') as string) as text
        from {{ relation }}
    ) m
{%- endmacro %}


{#-
  JSON through Spark's VARIANT: a line is JSON when try_parse_json takes it and it is one value
  (the parser stops after the first value; as the only element of an array nothing may
  follow it). A field's kind is its variant type, the root's the first character.
-#}
{% macro spark__hot_ingest_fields(lines, names) -%}
    select *,
           case when is_json then
               case substr(regexp_replace(line, '^[ \\t\\n\\r]+', ''), 1, 1)
                    when '{' then 'object' when '[' then 'array' when '"' then 'string'
                    when 'n' then 'null' when 't' then 'boolean' when 'f' then 'boolean'
                    else 'number' end
           else 'missing' end as root_kind
           {%- for name in names %},
           {{ _hot_spark_kind("case when is_json then schema_of_variant(variant_get(v, '$." ~ name ~ "')) end") }} as {{ name }}__kind,
           case when is_json then variant_get(v, '$.{{ name }}', 'string') end as {{ name }}__text
           {%- endfor %}
    from (
        select *, v is not null and json_array_length('[' || line || ']') = 1 as is_json
        from (
            select *,
                   case when n_bytes <= {{ hot_ingest_max_line_bytes() }} then try_parse_json(line)
                   end as v
            from {{ lines }}
        ) parsed
    ) checked_json
{%- endmacro %}

{% macro _hot_spark_kind(schema) -%}
    case when {{ schema }} is null then 'missing'
         when {{ schema }} = 'VOID' then 'null'
         when {{ schema }} = 'STRING' then 'string'
         when {{ schema }} = 'BOOLEAN' then 'boolean'
         when {{ schema }} like 'OBJECT%' then 'object'
         when {{ schema }} like 'ARRAY%' then 'array'
         else 'number' end
{%- endmacro %}


{% macro spark__hot_parse_rfc3339(text) -%}
    case when {{ text }} rlike '^[ \\t\\n\\f\\r]*\\d{4}-\\d\\d-\\d\\d[Tt ]([01]\\d|2[0-3]):[0-5]\\d:[0-5]\\d(\\.\\d+)?([Zz]|[+-]([01]\\d|2[0-3])(:?[0-5]\\d)?)[ \\t\\n\\f\\r]*\\z'
         -- The cast takes the offset and white space around; it rejects 30 February.
         then try_cast(upper({{ text }}) as timestamp)
    end
{%- endmacro %}


{% macro spark__hot_blank(text) -%}
    {{ text }} = '' or {{ text }} rlike '^[ \\t\\n\\x0B\\f\\r]+\\z'
{%- endmacro %}
