-- One row per accepted engagement event (ingest keeps the first-seen row of each event_id).
-- Renames and casts only.
select
    {{ dbt.safe_cast('event_id', dbt.type_string()) }} as event_id,
    {{ dbt.safe_cast('type', dbt.type_string()) }} as event_type,
    {{ dbt.safe_cast('video_id', dbt.type_string()) }} as video_id,
    {{ dbt.safe_cast('user_id', dbt.type_string()) }} as user_id,
    {{ dbt.safe_cast('occurred_at', dbt.type_timestamp()) }} as occurred_at,
    {{ epoch_seconds(dbt.safe_cast('occurred_at', dbt.type_timestamp())) }} as occurred_epoch,
    {{ dbt.safe_cast('watch_time_sec', type_double()) }} as watch_time_sec,
    {{ dbt.safe_cast('batch_id', dbt.type_bigint()) }} as batch_id,
    {{ dbt.safe_cast('source_file', dbt.type_string()) }} as source_file,
    {{ dbt.safe_cast('line_no', dbt.type_bigint()) }} as line_no,
    {{ dbt.safe_cast('ingested_at', dbt.type_timestamp()) }} as ingested_at
from {{ source('raw', 'events') }}
