{{
    config(
        materialized='incremental',
        unique_key='user_id',
        incremental_strategy=state_strategy(),
        partition_by=state_partition_by(),
        post_hook="{{ state_drop_stage() }}",
        on_schema_change='fail',
    )
}}
{#-
  Which accounts are single-purpose (SPEC §3b), per user, maintained incrementally: an account
  is single-purpose while every event the ledger holds of it is on one video (video_id). The
  ledger never loses a (user, video) pair (a displaced like/share leaves its earlier twin), so
  an account that engages with a second video stops being single-purpose for good. The
  creator's own events count here as engagement: a creator is not a throwaway account.

  A run reads the ledger rows newer than max(applied_batch_id) and writes only their users:
  single-purpose when the stored row was (or there was none) and the batch's rows are all on
  that video. video_id keeps the stored video, so a flip names the video whose ring loses the
  account; status_batch_id is the watermark of the run that last changed is_single_purpose or
  video_id (int_ring_videos recomputes those videos).
-#}
{#- The ledger is read where each CTE needs it, not through a CTE (see int_video_scores). -#}
{%- set ledger = ref('int_counted_events') -%}

with ledger_watermark as (
    select max(batch_id) as max_batch_id from {{ ledger }}
),

{% if is_incremental() %}
previous as (
    select user_id, video_id, is_single_purpose, status_batch_id, applied_batch_id
    from {{ this }}
),

batch_users as (
    select user_id, min(video_id) as min_video_id, max(video_id) as max_video_id
    from {{ ledger }}
    where batch_id > (select coalesce(max(applied_batch_id), -1) from previous)
    group by user_id
),

merged as (
    select
        b.user_id,
        coalesce(p.video_id, b.min_video_id) as video_id,
        case
            when b.min_video_id <> b.max_video_id then false
            when p.user_id is null then true
            when p.is_single_purpose and p.video_id = b.min_video_id then true
            else false
        end as is_single_purpose,
        p.user_id is null as is_new,
        p.is_single_purpose as was_single_purpose,
        p.status_batch_id as old_status_batch_id
    from batch_users as b
    left join previous as p on b.user_id = p.user_id
),

accounts as (
    select
        user_id,
        video_id,
        is_single_purpose,
        case
            when is_new or is_single_purpose <> was_single_purpose
                then (select max_batch_id from ledger_watermark)
            else old_status_batch_id
        end as status_batch_id
    from merged
)
{% else %}
accounts as (
    select
        user_id,
        min(video_id) as video_id,
        min(video_id) = max(video_id) as is_single_purpose,
        (select max_batch_id from ledger_watermark) as status_batch_id
    from {{ ledger }}
    group by user_id
)
{% endif %}

select
    cast(user_id as {{ dbt.type_string() }}) as user_id,
    cast(video_id as {{ dbt.type_string() }}) as video_id,
    cast(is_single_purpose as {{ dbt.type_boolean() }}) as is_single_purpose,
    cast(status_batch_id as {{ dbt.type_bigint() }}) as status_batch_id,
    cast((select max_batch_id from ledger_watermark) as {{ dbt.type_bigint() }}) as applied_batch_id
    {{ state_bucket_column(['user_id']) }}
from accounts
