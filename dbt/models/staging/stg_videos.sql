-- One row per catalogue upsert of a video (every version; int_latest_videos picks the latest).
select
    {{ dbt.safe_cast('video_id', dbt.type_string()) }} as video_id,
    {{ dbt.safe_cast('title', dbt.type_string()) }} as title,
    {{ dbt.safe_cast('thumbnail_url', dbt.type_string()) }} as thumbnail_url,
    {{ dbt.safe_cast('creator_id', dbt.type_string()) }} as creator_id,
    {{ dbt.safe_cast('published_at', dbt.type_timestamp()) }} as published_at,
    {{ dbt.safe_cast('batch_id', dbt.type_bigint()) }} as batch_id,
    {{ dbt.safe_cast('source_file', dbt.type_string()) }} as source_file,
    {{ dbt.safe_cast('line_no', dbt.type_bigint()) }} as line_no,
    {{ dbt.safe_cast('ingested_at', dbt.type_timestamp()) }} as ingested_at
from {{ source('raw', 'videos') }}
