{{
    config(
        materialized='incremental',
        unique_key='video_id',
        incremental_strategy=var('incremental_strategy', 'delete+insert'),
        on_schema_change='fail',
    )
}}
{#-
  Forward-decayed score state per video (SPEC §3), maintained incrementally.

  Per video: anchor_epoch L (a landmark: the latest counted event time seen) and
  decayed_mass = sum(weight * 2^((t - L) / half_life)); every exponent is <= 0, so the mass is
  finite over any span of event time. hotScore(now) = decayed_mass * 2^((L - now) / half_life).

  A run reads the ledger rows newer than max(applied_batch_id) and writes only touched videos:
  - creator unchanged: new_L = greatest(L, max new t);
      new_mass = mass * 2^((L - new_L)/h) + sum(new weight * 2^((t - new_L)/h)),
    skipping rows of the current creator (a displaced like/share arrives as a -1 row);
  - new video, catalogue row arrived or creator changed (catalogue vs creator_id_applied,
    also when the video got no events this run), or a displacement cancelled almost all of
    the mass (|new_mass| <= 1e-6 * sum |terms|): recompute the video from its ledger rows,
    netting each event's +1/-1 rows and excluding the current creator's events.
  Videos not yet in the catalogue are scored with no creator exclusion
  (creator_id_applied null) and are recomputed when their catalogue row arrives.
  Strategy: var('incremental_strategy'), delete+insert on DuckDB, merge on Spark (Delta).
-#}
{%- set half_life = "cast(" ~ (var('half_life_hours') * 3600) ~ " as " ~ type_double() ~ ")" -%}

with ledger as (
    select
        event_id,
        video_id,
        user_id,
        event_type,
        occurred_epoch,
        sign,
        weight,
        counted_watch_sec,
        batch_id
    from {{ ref('int_counted_events') }}
),

catalogue as (
    select video_id, creator_id from {{ ref('int_latest_videos') }}
),

ledger_watermark as (
    select max(batch_id) as max_batch_id from ledger
),

{% if is_incremental() %}
previous as (
    select * from {{ this }}
),

new_rows as (
    select *
    from ledger
    where batch_id > (select coalesce(max(applied_batch_id), -1) from previous)
),

touched as (
    select video_id from new_rows
    union
    select p.video_id
    from previous as p
    inner join catalogue as c on p.video_id = c.video_id
    where p.creator_id_applied is null or p.creator_id_applied <> c.creator_id
),

state as (
    select
        t.video_id,
        c.creator_id as current_creator_id,
        case
            when p.video_id is null then 1
            when c.video_id is null then 0
            when p.creator_id_applied is null then 1
            when p.creator_id_applied <> c.creator_id then 1
            else 0
        end as needs_recompute,
        p.anchor_epoch as old_anchor_epoch,
        p.decayed_mass as old_decayed_mass,
        p.likes as old_likes,
        p.comments as old_comments,
        p.shares as old_shares,
        p.watches as old_watches,
        p.watch_sec as old_watch_sec,
        p.counted_events as old_counted_events
    from touched as t
    left join previous as p on t.video_id = p.video_id
    left join catalogue as c on t.video_id = c.video_id
),

combine_rows as (
    select
        n.video_id,
        n.event_type,
        n.occurred_epoch,
        n.sign,
        n.weight,
        n.counted_watch_sec
    from new_rows as n
    inner join state as s on n.video_id = s.video_id
    where s.needs_recompute = 0
      and (s.current_creator_id is null or n.user_id <> s.current_creator_id)
),

combine_max as (
    select
        video_id,
        max(occurred_epoch) as batch_max_epoch,
        max(case when sign < 0 then 1 else 0 end) as has_displacement
    from combine_rows
    group by video_id
),

combine_anchor as (
    select
        s.*,
        coalesce(m.has_displacement, 0) as has_displacement,
        case
            when s.old_anchor_epoch is null then m.batch_max_epoch
            when m.batch_max_epoch is null then s.old_anchor_epoch
            when m.batch_max_epoch > s.old_anchor_epoch then m.batch_max_epoch
            else s.old_anchor_epoch
        end as new_anchor_epoch
    from state as s
    left join combine_max as m on s.video_id = m.video_id
    where s.needs_recompute = 0
),

combine_added as (
    select
        r.video_id,
        sum(r.weight * {{ exp2('(r.occurred_epoch - a.new_anchor_epoch) / ' ~ half_life) }}) as added_mass,
        sum(abs(r.weight) * {{ exp2('(r.occurred_epoch - a.new_anchor_epoch) / ' ~ half_life) }}) as added_abs_mass,
        sum(case when r.event_type = 'like' then r.sign else 0 end) as added_likes,
        sum(case when r.event_type = 'comment' then r.sign else 0 end) as added_comments,
        sum(case when r.event_type = 'share' then r.sign else 0 end) as added_shares,
        sum(case when r.event_type = 'watch' then r.sign else 0 end) as added_watches,
        sum(r.counted_watch_sec) as added_watch_sec,
        sum(r.sign) as added_counted_events
    from combine_rows as r
    inner join combine_anchor as a on r.video_id = a.video_id
    group by r.video_id
),

combine_kept as (
    select
        a.*,
        case
            when a.old_anchor_epoch is null or a.old_decayed_mass is null then 0
            else a.old_decayed_mass
                * {{ exp2('(a.old_anchor_epoch - a.new_anchor_epoch) / ' ~ half_life) }}
        end as kept_mass,
        coalesce(d.added_mass, 0) as added_mass,
        coalesce(d.added_abs_mass, 0) as added_abs_mass,
        coalesce(d.added_likes, 0) as added_likes,
        coalesce(d.added_comments, 0) as added_comments,
        coalesce(d.added_shares, 0) as added_shares,
        coalesce(d.added_watches, 0) as added_watches,
        coalesce(d.added_watch_sec, 0) as added_watch_sec,
        coalesce(d.added_counted_events, 0) as added_counted_events
    from combine_anchor as a
    left join combine_added as d on a.video_id = d.video_id
),

combined as (
    select
        video_id,
        current_creator_id as creator_id_applied,
        new_anchor_epoch as anchor_epoch,
        kept_mass + added_mass as decayed_mass,
        coalesce(old_likes, 0) + added_likes as likes,
        coalesce(old_comments, 0) + added_comments as comments,
        coalesce(old_shares, 0) + added_shares as shares,
        coalesce(old_watches, 0) + added_watches as watches,
        coalesce(old_watch_sec, 0) + added_watch_sec as watch_sec,
        coalesce(old_counted_events, 0) + added_counted_events as counted_events,
        case
            when has_displacement = 1
                and abs(kept_mass + added_mass) <= 1e-6 * (abs(kept_mass) + added_abs_mass)
                then 1
            else 0
        end as lost_precision
    from combine_kept
),

recompute_videos as (
    select video_id, current_creator_id
    from state
    where needs_recompute = 1
    union all
    select video_id, creator_id_applied as current_creator_id
    from combined
    where lost_precision = 1
),
{% else %}
recompute_videos as (
    select v.video_id, c.creator_id as current_creator_id
    from (select distinct video_id from ledger) as v
    left join catalogue as c on v.video_id = c.video_id
),
{% endif %}

net_events as (
    select
        l.video_id,
        l.event_id,
        l.user_id,
        l.event_type,
        sum(l.sign) as net_sign,
        max(case when l.sign > 0 then l.occurred_epoch end) as occurred_epoch,
        max(case when l.sign > 0 then l.weight end) as weight,
        max(case when l.sign > 0 then l.counted_watch_sec end) as counted_watch_sec
    from ledger as l
    inner join recompute_videos as r on l.video_id = r.video_id
    group by l.video_id, l.event_id, l.user_id, l.event_type
),

counted as (
    select n.*
    from net_events as n
    inner join recompute_videos as r on n.video_id = r.video_id
    where n.net_sign > 0
      and (r.current_creator_id is null or n.user_id <> r.current_creator_id)
),

recompute_anchor as (
    select video_id, max(occurred_epoch) as anchor_epoch
    from counted
    group by video_id
),

recompute_sums as (
    select
        c.video_id,
        sum(c.weight * {{ exp2('(c.occurred_epoch - a.anchor_epoch) / ' ~ half_life) }}) as decayed_mass,
        sum(case when c.event_type = 'like' then 1 else 0 end) as likes,
        sum(case when c.event_type = 'comment' then 1 else 0 end) as comments,
        sum(case when c.event_type = 'share' then 1 else 0 end) as shares,
        sum(case when c.event_type = 'watch' then 1 else 0 end) as watches,
        sum(c.counted_watch_sec) as watch_sec,
        count(*) as counted_events
    from counted as c
    inner join recompute_anchor as a on c.video_id = a.video_id
    group by c.video_id
),

recomputed as (
    select
        r.video_id,
        r.current_creator_id as creator_id_applied,
        a.anchor_epoch,
        coalesce(s.decayed_mass, 0) as decayed_mass,
        coalesce(s.likes, 0) as likes,
        coalesce(s.comments, 0) as comments,
        coalesce(s.shares, 0) as shares,
        coalesce(s.watches, 0) as watches,
        coalesce(s.watch_sec, 0) as watch_sec,
        coalesce(s.counted_events, 0) as counted_events
    from recompute_videos as r
    left join recompute_anchor as a on r.video_id = a.video_id
    left join recompute_sums as s on r.video_id = s.video_id
),

final as (
{%- if is_incremental() %}
    select
        video_id, creator_id_applied, anchor_epoch, decayed_mass,
        likes, comments, shares, watches, watch_sec, counted_events
    from combined
    where lost_precision = 0

    union all
{%- endif %}

    select
        video_id, creator_id_applied, anchor_epoch, decayed_mass,
        likes, comments, shares, watches, watch_sec, counted_events
    from recomputed
)

select
    cast(video_id as {{ dbt.type_string() }}) as video_id,
    cast(creator_id_applied as {{ dbt.type_string() }}) as creator_id_applied,
    cast(anchor_epoch as {{ type_double() }}) as anchor_epoch,
    cast(decayed_mass as {{ type_double() }}) as decayed_mass,
    cast(likes as {{ dbt.type_bigint() }}) as likes,
    cast(comments as {{ dbt.type_bigint() }}) as comments,
    cast(shares as {{ dbt.type_bigint() }}) as shares,
    cast(watches as {{ dbt.type_bigint() }}) as watches,
    cast(watch_sec as {{ type_double() }}) as watch_sec,
    cast(counted_events as {{ dbt.type_bigint() }}) as counted_events,
    cast((select max_batch_id from ledger_watermark) as {{ dbt.type_bigint() }}) as applied_batch_id
from final
