{{
    config(
        materialized='incremental',
        unique_key=['user_id', 'video_id'],
        incremental_strategy=state_strategy(),
        partition_by=state_partition_by(),
        post_hook="{{ state_drop_stage() }}",
        on_schema_change='fail',
    )
}}
{#-
  Counted interactions per (user, video), undecayed: the input of the personal embeddings.
  Same counting rules as the score (SPEC §3); a pair whose user is the video's current creator
  is kept with zero counts (is_creator = true). first_event_epoch dates the pair (when the user
  came to the video: the embeddings job's time split holds out what users came to last),
  last_event_epoch its recency. A run recomputes only touched pairs: pairs with ledger rows
  newer than max(applied_batch_id), and pairs of videos whose creator changed (or whose
  catalogue row arrived) since the pair was written. A warehouse built before
  first_event_epoch needs `dbt build --full-refresh --select fct_user_video_interactions` once
  (on_schema_change='fail'; the ledger holds every event, so nothing is lost).
-#}
{#- The ledger is read where each CTE needs it, not through a CTE (see int_video_scores). -#}
{%- set ledger = ref('int_counted_events') -%}

with catalogue as (
    select video_id, creator_id from {{ ref('int_latest_videos') }}
),

ledger_watermark as (
    select max(batch_id) as max_batch_id from {{ ledger }}
),

{% if is_incremental() %}
previous as (
    select user_id, video_id, creator_id_applied, applied_batch_id from {{ this }}
),

touched_pairs as (
    select user_id, video_id
    from {{ ledger }}
    where batch_id > (select coalesce(max(applied_batch_id), -1) from previous)
    union
    select p.user_id, p.video_id
    from previous as p
    inner join catalogue as c on p.video_id = c.video_id
    where p.creator_id_applied is null or p.creator_id_applied <> c.creator_id
),
{% else %}
touched_pairs as (
    select distinct user_id, video_id from {{ ledger }}
),
{% endif %}

pairs as (
    select
        t.user_id,
        t.video_id,
        c.creator_id as current_creator_id,
        case when c.creator_id is not null and c.creator_id = t.user_id then 1 else 0 end
            as is_creator
    from touched_pairs as t
    left join catalogue as c on t.video_id = c.video_id
),

-- Every ledger event of a touched pair, its +1/-1 rows netted; it counts when its net sign is
-- positive and the pair is not the creator's (one read of `pairs`: Spark computes a CTE at
-- every read).
pair_events as (
    select
        p.user_id,
        p.video_id,
        p.current_creator_id,
        p.is_creator,
        l.event_type,
        case when sum(l.sign) > 0 and p.is_creator = 0 then 1 else 0 end as counts,
        max(case when l.sign > 0 then l.occurred_epoch end) as occurred_epoch,
        max(case when l.sign > 0 then l.weight end) as weight,
        max(case when l.sign > 0 then l.counted_watch_sec end) as counted_watch_sec
    from pairs as p
    left join {{ ledger }} as l on l.user_id = p.user_id and l.video_id = p.video_id
    group by p.user_id, p.video_id, p.current_creator_id, p.is_creator, l.event_id, l.event_type
),

aggregated as (
    select
        user_id,
        video_id,
        current_creator_id,
        is_creator,
        sum(case when counts = 1 and event_type = 'like' then 1 else 0 end) as likes,
        sum(case when counts = 1 and event_type = 'comment' then 1 else 0 end) as comments,
        sum(case when counts = 1 and event_type = 'share' then 1 else 0 end) as shares,
        sum(case when counts = 1 and event_type = 'watch' then 1 else 0 end) as watches,
        sum(case when counts = 1 then counted_watch_sec else 0 end) as watch_sec,
        sum(case when counts = 1 then weight else 0 end) as interaction_weight,
        min(case when counts = 1 then occurred_epoch end) as first_event_epoch,
        max(case when counts = 1 then occurred_epoch end) as last_event_epoch
    from pair_events
    group by user_id, video_id, current_creator_id, is_creator
)

select
    cast(user_id as {{ dbt.type_string() }}) as user_id,
    cast(video_id as {{ dbt.type_string() }}) as video_id,
    cast(likes as {{ dbt.type_bigint() }}) as likes,
    cast(comments as {{ dbt.type_bigint() }}) as comments,
    cast(shares as {{ dbt.type_bigint() }}) as shares,
    cast(watches as {{ dbt.type_bigint() }}) as watches,
    cast(watch_sec as {{ type_double() }}) as watch_sec,
    cast(interaction_weight as {{ type_double() }}) as interaction_weight,
    cast(first_event_epoch as {{ type_double() }}) as first_event_epoch,
    cast(last_event_epoch as {{ type_double() }}) as last_event_epoch,
    {{ to_timestamp_from_epoch('last_event_epoch') }} as last_event_at,
    case when is_creator = 1 then true else false end as is_creator,
    cast(current_creator_id as {{ dbt.type_string() }}) as creator_id_applied,
    cast((select max_batch_id from ledger_watermark) as {{ dbt.type_bigint() }}) as applied_batch_id
    {{ state_bucket_column(['user_id', 'video_id']) }}
from aggregated
