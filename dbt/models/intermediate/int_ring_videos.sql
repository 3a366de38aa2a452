{{
    config(
        materialized='incremental',
        unique_key='video_id',
        incremental_strategy=state_strategy(),
        partition_by=state_partition_by(),
        post_hook="{{ state_drop_stage() }}",
        on_schema_change='fail',
    )
}}
{#-
  Ring state per video (SPEC §3b), recomputed only for the videos a run touches: videos with
  new ledger rows, videos an account stopped being single-purpose for (int_ring_accounts
  .status_batch_id), and videos whose catalogue row arrived or changed (the creator's likes
  and shares do not count). Every touched video gets a row, is_ring or not.

  For a touched video: its counted likes and shares (ledger rows netted, the current creator's
  left out); each single-purpose account joins at its first counted like or share
  (microseconds, so window edges are exact integers). A window starts at each account's join
  time and spans ring_window_min minutes, both ends included; it qualifies when it holds at
  least ring_min_accounts accounts holding together at least ring_share of the video's counted
  likes and shares. The ring is the union of the qualifying windows: its accounts, the first
  and last join time. All of it is a function of the ledger and the catalogue, so any cut,
  order or replay of the same input gives the same rings.
-#}
{#- The ledger is read where each CTE needs it, not through a CTE (see int_video_scores). -#}
{%- set ledger = ref('int_counted_events') -%}
{%- set ring = ring_params() -%}
{%- set window_us = (ring['window_sec'] * 1000000) | int -%}

with catalogue as (
    select video_id, creator_id, batch_id from {{ ref('int_latest_videos') }}
),

watermark as (
    select
        case
            when max_catalogue_batch_id is null then max_ledger_batch_id
            when max_ledger_batch_id is null or max_catalogue_batch_id > max_ledger_batch_id
                then max_catalogue_batch_id
            else max_ledger_batch_id
        end as max_batch_id
    from (
        select
            (select max(batch_id) from {{ ledger }}) as max_ledger_batch_id,
            (select max(batch_id) from catalogue) as max_catalogue_batch_id
    ) as maxima
),

{% if is_incremental() %}
touched as (
    select video_id
    from {{ ledger }}
    where batch_id > (select coalesce(max(applied_batch_id), -1) from {{ this }})
    union
    select video_id
    from {{ ref('int_ring_accounts') }}
    where status_batch_id > (select coalesce(max(applied_batch_id), -1) from {{ this }})
    union
    select video_id
    from catalogue
    where batch_id > (select coalesce(max(applied_batch_id), -1) from {{ this }})
),
{% else %}
touched as (
    select distinct video_id from {{ ledger }}
),
{% endif %}

-- A ring needs ring_min_accounts single-purpose accounts: only the touched videos with that
-- many are read from the ledger (the others get a row with is_ring false).
candidates as (
    select a.video_id
    from {{ ref('int_ring_accounts') }} as a
    inner join (select distinct video_id from touched) as t on a.video_id = t.video_id
    where a.is_single_purpose
    group by a.video_id
    having count(*) >= {{ ring['min_accounts'] }}
),

-- The counted likes and shares of the candidates, one row per counting event.
counted as (
    select
        l.video_id,
        l.user_id,
        max(case when l.sign > 0 then l.occurred_epoch end) as occurred_epoch
    from {{ ledger }} as l
    inner join candidates as k on l.video_id = k.video_id
    left join catalogue as c on l.video_id = c.video_id
    where l.event_type in ('like', 'share')
      and (c.creator_id is null or l.user_id <> c.creator_id)
    group by l.video_id, l.user_id, l.event_id
    having sum(l.sign) > 0
),

per_user as (
    select
        video_id,
        user_id,
        count(*) as n_events,
        cast(round(min(occurred_epoch) * 1000000) as {{ dbt.type_bigint() }}) as joined_us,
        sum(count(*)) over (partition by video_id) as video_events
    from counted
    group by video_id, user_id
),

windows as (
    select
        p.video_id,
        p.user_id,
        p.n_events,
        p.joined_us,
        p.video_events,
        count(*) over (
            partition by p.video_id order by p.joined_us
            range between current row and {{ window_us }} following
        ) as window_accounts,
        sum(p.n_events) over (
            partition by p.video_id order by p.joined_us
            range between current row and {{ window_us }} following
        ) as window_events
    from per_user as p
    inner join {{ ref('int_ring_accounts') }} as a
        on a.user_id = p.user_id
        and a.video_id = p.video_id
        and a.is_single_purpose
),

-- Each account with the start of the latest qualifying window that starts at or before it.
anchored as (
    select
        *,
        max(
            case
                when window_accounts >= {{ ring['min_accounts'] }}
                    and window_events >= {{ ring['share'] }} * video_events
                    then joined_us
            end
        ) over (
            partition by video_id order by joined_us
            range between unbounded preceding and current row
        ) as anchor_us
    from windows
),

members as (
    select
        video_id,
        user_id,
        n_events,
        joined_us,
        video_events,
        row_number() over (partition by video_id order by user_id) as member_rank
    from anchored
    where anchor_us is not null and joined_us - anchor_us <= {{ window_us }}
),

rings as (
    select
        video_id,
        count(*) as ring_accounts,
        sum(n_events) as ring_events,
        max(video_events) as video_events,
        min(joined_us) as start_us,
        max(joined_us) as end_us,
        {{ ring_accounts_json('user_id', 'member_rank', 50) }} as accounts_sample
    from members
    group by video_id
),

final as (
    select
        t.video_id,
        r.video_id is not null as is_ring,
        coalesce(r.ring_accounts, 0) as ring_accounts,
        coalesce(r.ring_events, 0) as ring_events,
        r.video_events,
        r.start_us,
        r.end_us,
        r.accounts_sample
    from (select distinct video_id from touched) as t
    left join rings as r on t.video_id = r.video_id
)

select
    cast(video_id as {{ dbt.type_string() }}) as video_id,
    cast(is_ring as {{ dbt.type_boolean() }}) as is_ring,
    cast(ring_accounts as {{ dbt.type_bigint() }}) as ring_accounts,
    cast(ring_events as {{ dbt.type_bigint() }}) as ring_events,
    cast(video_events as {{ dbt.type_bigint() }}) as counted_likes_shares,
    cast(start_us as {{ dbt.type_bigint() }}) as ring_start_us,
    cast(end_us as {{ dbt.type_bigint() }}) as ring_end_us,
    cast(accounts_sample as {{ dbt.type_string() }}) as ring_accounts_sample,
    cast((select max_batch_id from watermark) as {{ dbt.type_bigint() }}) as applied_batch_id
    {{ state_bucket_column(['video_id']) }}
from final
