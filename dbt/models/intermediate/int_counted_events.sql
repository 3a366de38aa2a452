{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
    )
}}
{#-
  Append-only ledger of signed score contributions (SPEC §3 "counted events").

  Each run reads only the raw events of batches newer than the ledger's max batch_id.
  - comment / watch: every event adds one +1 row (a watch counts min(watch_time_sec, cap) seconds).
  - like / share: at most one per (video, user, type) counts, the earliest (occurred_at, event_id).
    The batch's earliest candidate per key is compared with the key's current winner in the
    ledger (the earliest positive row of the key; displaced winners are never earlier than it).
    If the candidate is earlier, or there is no winner, it gets a +1 row and the displaced
    winner (if any) a -1 row, stamped with the displacing batch's batch_id.
  The creator's own events are kept here: whether they count depends on the catalogue at read
  time (int_video_scores). Changing a weight or the cap needs a full refresh.
-#}
{%- set w_like = var('weight_like') -%}
{%- set w_comment = var('weight_comment') -%}
{%- set w_share = var('weight_share') -%}
{%- set w_watch_per_minute = var('weight_watch_per_minute') -%}
{%- set watch_cap_sec = var('watch_cap_sec') -%}

with new_events as (
    select
        event_id,
        event_type,
        video_id,
        user_id,
        occurred_at,
        occurred_epoch,
        watch_time_sec,
        batch_id
    from {{ ref('stg_events') }}
    where event_type in ('like', 'comment', 'share', 'watch')
    {%- if is_incremental() %}
      and batch_id > (select coalesce(max(batch_id), -1) from {{ this }})
    {%- endif %}
),

every_event_counts as (
    select
        event_id,
        video_id,
        user_id,
        event_type,
        occurred_at,
        occurred_epoch,
        1 as sign,
        case
            when event_type = 'watch' then
                least(
                    greatest(coalesce(watch_time_sec, 0), 0),
                    cast({{ watch_cap_sec }} as {{ type_double() }})
                )
            else 0
        end as counted_watch_sec,
        batch_id
    from new_events
    where event_type in ('comment', 'watch')
),

once_per_user_candidates as (
    select
        event_id,
        video_id,
        user_id,
        event_type,
        occurred_at,
        occurred_epoch,
        batch_id,
        row_number() over (
            partition by video_id, user_id, event_type
            order by occurred_at, event_id
        ) as candidate_rank
    from new_events
    where event_type in ('like', 'share')
),

batch_earliest as (
    select * from once_per_user_candidates where candidate_rank = 1
),

{% if is_incremental() %}
ledger_positive as (
    select
        l.video_id,
        l.user_id,
        l.event_type,
        l.event_id,
        l.occurred_at,
        l.occurred_epoch,
        row_number() over (
            partition by l.video_id, l.user_id, l.event_type
            order by l.occurred_at, l.event_id
        ) as winner_rank
    from {{ this }} as l
    inner join batch_earliest as b
        on l.video_id = b.video_id
        and l.user_id = b.user_id
        and l.event_type = b.event_type
    -- Implied by the join; stated so the scan of the ledger drops the other rows itself.
    where l.sign = 1 and l.event_type in ('like', 'share')
),

current_winners as (
    select * from ledger_positive where winner_rank = 1
),

decisions as (
    select
        b.event_id,
        b.video_id,
        b.user_id,
        b.event_type,
        b.occurred_at,
        b.occurred_epoch,
        b.batch_id,
        w.event_id as displaced_event_id,
        w.occurred_at as displaced_occurred_at,
        w.occurred_epoch as displaced_occurred_epoch,
        case
            when w.event_id is null then 1
            when b.occurred_at < w.occurred_at then 1
            when b.occurred_at = w.occurred_at and b.event_id < w.event_id then 1
            else 0
        end as is_new_winner
    from batch_earliest as b
    left join current_winners as w
        on b.video_id = w.video_id
        and b.user_id = w.user_id
        and b.event_type = w.event_type
),
{% else %}
decisions as (
    select
        event_id,
        video_id,
        user_id,
        event_type,
        occurred_at,
        occurred_epoch,
        batch_id,
        1 as is_new_winner
    from batch_earliest
),
{% endif %}

contributions as (
    select
        event_id, video_id, user_id, event_type, occurred_at, occurred_epoch,
        sign, counted_watch_sec, batch_id
    from every_event_counts

    union all

    select
        event_id, video_id, user_id, event_type, occurred_at, occurred_epoch,
        1 as sign, 0 as counted_watch_sec, batch_id
    from decisions
    where is_new_winner = 1

{%- if is_incremental() %}

    union all

    select
        displaced_event_id as event_id, video_id, user_id, event_type,
        displaced_occurred_at as occurred_at, displaced_occurred_epoch as occurred_epoch,
        -1 as sign, 0 as counted_watch_sec, batch_id
    from decisions
    where is_new_winner = 1
      and displaced_event_id is not null
{%- endif %}
)

select
    cast(event_id as {{ dbt.type_string() }}) as event_id,
    cast(video_id as {{ dbt.type_string() }}) as video_id,
    cast(user_id as {{ dbt.type_string() }}) as user_id,
    cast(event_type as {{ dbt.type_string() }}) as event_type,
    cast(occurred_at as {{ dbt.type_timestamp() }}) as occurred_at,
    cast(occurred_epoch as {{ type_double() }}) as occurred_epoch,
    cast(sign as {{ dbt.type_int() }}) as sign,
    cast(
        sign * case event_type
            when 'like' then cast({{ w_like }} as {{ type_double() }})
            when 'comment' then cast({{ w_comment }} as {{ type_double() }})
            when 'share' then cast({{ w_share }} as {{ type_double() }})
            when 'watch' then cast(counted_watch_sec as {{ type_double() }}) / 60
                * cast({{ w_watch_per_minute }} as {{ type_double() }})
        end
        as {{ type_double() }}
    ) as weight,
    cast(sign * counted_watch_sec as {{ type_double() }}) as counted_watch_sec,
    cast(batch_id as {{ dbt.type_bigint() }}) as batch_id
from contributions
