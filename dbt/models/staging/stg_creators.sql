-- One row per catalogue upsert of a creator (every version; int_latest_creators picks the latest).
select
    {{ dbt.safe_cast('creator_id', dbt.type_string()) }} as creator_id,
    {{ dbt.safe_cast('name', dbt.type_string()) }} as creator_name,
    {{ dbt.safe_cast('avatar_url', dbt.type_string()) }} as avatar_url,
    {{ dbt.safe_cast('batch_id', dbt.type_bigint()) }} as batch_id,
    {{ dbt.safe_cast('source_file', dbt.type_string()) }} as source_file,
    {{ dbt.safe_cast('line_no', dbt.type_bigint()) }} as line_no,
    {{ dbt.safe_cast('ingested_at', dbt.type_timestamp()) }} as ingested_at
from {{ source('raw', 'creators') }}
