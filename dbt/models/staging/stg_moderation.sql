-- One row per moderation decision (every decision; int_latest_moderation picks the winner).
select
    {{ dbt.safe_cast('video_id', dbt.type_string()) }} as video_id,
    {{ dbt.safe_cast('status', dbt.type_string()) }} as moderation_status,
    {{ dbt.safe_cast('decided_at', dbt.type_timestamp()) }} as decided_at,
    {{ dbt.safe_cast('reason', dbt.type_string()) }} as moderation_reason,
    {{ dbt.safe_cast('batch_id', dbt.type_bigint()) }} as batch_id,
    {{ dbt.safe_cast('source_file', dbt.type_string()) }} as source_file,
    {{ dbt.safe_cast('line_no', dbt.type_bigint()) }} as line_no,
    {{ dbt.safe_cast('ingested_at', dbt.type_timestamp()) }} as ingested_at
from {{ source('raw', 'moderation') }}
