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
  Forward-decayed score state per video (SPEC §3), maintained incrementally.

  Per video: anchor_epoch L (a landmark: the latest counted event time seen) and one mass per
  signal, <signal>_mass = sum over that signal's counted events of weight * 2^((t - L) / half_life)
  (likes, comments, watch, shares: the explain endpoint's parts, SPEC §5); every exponent is
  <= 0, so the masses are finite over any span of event time. decayed_mass is their sum and
  hotScore(now) = decayed_mass * 2^((L - now) / half_life); each signal's part of it is its
  mass times the same factor, so the parts add up to the score.

  A run reads the ledger rows newer than max(applied_batch_id) and writes only touched videos:
  - creator unchanged: new_L = greatest(L, max new t); per signal
      new_mass = mass * 2^((L - new_L)/h) + sum(new weight * 2^((t - new_L)/h)),
    skipping rows of the current creator (a displaced like/share arrives as a -1 row);
  - new video, catalogue row arrived or creator changed (catalogue vs creator_id_applied,
    also when the video got no events this run), or a displacement cancelled almost all of
    a signal's mass (|new_mass| <= 1e-6 * sum |terms|, likes or shares: the only signals
    with -1 rows): recompute the video from its ledger rows,
    netting each event's +1/-1 rows and excluding the current creator's events.
  Videos not yet in the catalogue are scored with no creator exclusion
  (creator_id_applied null) and are recomputed when their catalogue row arrives.
  How the touched rows replace the stored ones is per engine (macros/incremental_state.sql).
  The CTEs form a chain, each read once where possible: Spark computes a CTE at every read
  (a CTE read twice by two CTEs that are each read twice is computed four times).
-#}
{#- The ledger is read where each CTE needs it, not through a CTE of its own: DuckDB copies a
    CTE read more than once whole, while each read of the table filters at the scan (the
    batch watermark skips whole row groups). -#}
{%- set ledger = ref('int_counted_events') -%}
{%- set half_life = "cast(" ~ (var('half_life_hours') * 3600) ~ " as " ~ type_double() ~ ")" -%}
{#- (mass column prefix, event_type) per signal; likes and shares can be displaced (-1 rows) -#}
{%- set signals = [('likes', 'like'), ('comments', 'comment'), ('watch', 'watch'), ('shares', 'share')] -%}
{%- set displaceable = [('likes', 'like'), ('shares', 'share')] -%}

with catalogue as (
    select video_id, creator_id from {{ ref('int_latest_videos') }}
),

ledger_watermark as (
    select max(batch_id) as max_batch_id from {{ ledger }}
),

{% if is_incremental() %}
previous as (
    select * from {{ this }}
),

new_rows as (
    select *
    from {{ ledger }}
    where batch_id > (select coalesce(max(applied_batch_id), -1) from previous)
),

-- The touched videos (new ledger rows, or a catalogue creator other than the one applied),
-- each with its stored state and whether it is recomputed from its ledger rows.
state as (
    select
        coalesce(b.video_id, p.video_id) as video_id,
        c.creator_id as current_creator_id,
        case
            when p.video_id is null then 1
            when c.video_id is null then 0
            when p.creator_id_applied is null then 1
            when p.creator_id_applied <> c.creator_id then 1
            else 0
        end as needs_recompute,
        p.anchor_epoch as old_anchor_epoch,
        {%- for s, _ in signals %}
        p.{{ s }}_mass as old_{{ s }}_mass,
        {%- endfor %}
        p.likes as old_likes,
        p.comments as old_comments,
        p.shares as old_shares,
        p.watches as old_watches,
        p.watch_sec as old_watch_sec,
        p.counted_events as old_counted_events
    from (select distinct video_id from new_rows) as b
    full outer join previous as p on b.video_id = p.video_id
    left join catalogue as c on coalesce(b.video_id, p.video_id) = c.video_id
    where b.video_id is not null
       or (c.video_id is not null
           and (p.creator_id_applied is null or p.creator_id_applied <> c.creator_id))
),

-- Every touched video with the new ledger rows it adds to its stored mass (creator unchanged;
-- the current creator's rows skipped) and its new anchor greatest(L, max new t).
combine_rows as (
    select
        s.*,
        n.event_type,
        n.occurred_epoch,
        n.sign,
        n.weight,
        n.counted_watch_sec,
        max(n.occurred_epoch) over (partition by s.video_id) as batch_max_epoch
    from state as s
    left join new_rows as n
        on n.video_id = s.video_id
        and s.needs_recompute = 0
        and (s.current_creator_id is null or n.user_id <> s.current_creator_id)
),

combine_anchor as (
    select
        *,
        case
            when old_anchor_epoch is null then batch_max_epoch
            when batch_max_epoch is null then old_anchor_epoch
            when batch_max_epoch > old_anchor_epoch then batch_max_epoch
            else old_anchor_epoch
        end as new_anchor_epoch
    from combine_rows
),

-- Each new row's term against the new anchor.
combine_terms as (
    select
        *,
        weight * {{ exp2('(occurred_epoch - new_anchor_epoch) / ' ~ half_life) }} as term
    from combine_anchor
),

combine_sums as (
    select
        video_id,
        current_creator_id,
        needs_recompute,
        new_anchor_epoch,
        {%- for s, t in signals %}
        case
            when old_anchor_epoch is null or old_{{ s }}_mass is null then 0
            else old_{{ s }}_mass
                * {{ exp2('(old_anchor_epoch - new_anchor_epoch) / ' ~ half_life) }}
        end as kept_{{ s }},
        coalesce(sum(case when event_type = '{{ t }}' then term end), 0) as added_{{ s }},
        {%- endfor %}
        {%- for s, t in displaceable %}
        coalesce(sum(case when event_type = '{{ t }}' then abs(term) end), 0) as added_abs_{{ s }},
        max(case when event_type = '{{ t }}' and sign < 0 then 1 else 0 end) as displaced_{{ s }},
        {%- endfor %}
        coalesce(old_likes, 0) + sum(case when event_type = 'like' then sign else 0 end) as likes,
        coalesce(old_comments, 0) + sum(case when event_type = 'comment' then sign else 0 end)
            as comments,
        coalesce(old_shares, 0) + sum(case when event_type = 'share' then sign else 0 end)
            as shares,
        coalesce(old_watches, 0) + sum(case when event_type = 'watch' then sign else 0 end)
            as watches,
        coalesce(old_watch_sec, 0) + coalesce(sum(counted_watch_sec), 0) as watch_sec,
        coalesce(old_counted_events, 0) + coalesce(sum(sign), 0) as counted_events
    from combine_terms
    group by
        video_id, current_creator_id, needs_recompute, new_anchor_epoch, old_anchor_epoch,
        {%- for s, _ in signals %} old_{{ s }}_mass,{% endfor %}
        old_likes, old_comments, old_shares, old_watches, old_watch_sec, old_counted_events
),

combined as (
    select
        video_id,
        current_creator_id,
        needs_recompute,
        new_anchor_epoch as anchor_epoch,
        {%- for s, _ in signals %}
        kept_{{ s }} + added_{{ s }} as {{ s }}_mass,
        {%- endfor %}
        likes,
        comments,
        shares,
        watches,
        watch_sec,
        counted_events,
        case
            {%- for s, _ in displaceable %}
            when displaced_{{ s }} = 1
                and abs(kept_{{ s }} + added_{{ s }}) <= 1e-6 * (abs(kept_{{ s }}) + added_abs_{{ s }})
                then 1
            {%- endfor %}
            else 0
        end as lost_precision
    from combine_sums
),

recompute_videos as (
    select video_id, current_creator_id
    from combined
    where needs_recompute = 1 or lost_precision = 1
),
{% else %}
recompute_videos as (
    select v.video_id, c.creator_id as current_creator_id
    from (select distinct video_id from {{ ledger }}) as v
    left join catalogue as c on v.video_id = c.video_id
),
{% endif %}

-- Every ledger event of a recomputed video, its +1/-1 rows netted; it counts when its net
-- sign is positive and it is not the current creator's.
recompute_events as (
    select
        r.video_id,
        r.current_creator_id,
        l.event_type,
        case
            when sum(l.sign) > 0
                and (r.current_creator_id is null or l.user_id <> r.current_creator_id)
                then 1
            else 0
        end as counts,
        max(case when l.sign > 0 then l.occurred_epoch end) as occurred_epoch,
        max(case when l.sign > 0 then l.weight end) as weight,
        max(case when l.sign > 0 then l.counted_watch_sec end) as counted_watch_sec
    from recompute_videos as r
    left join {{ ledger }} as l on l.video_id = r.video_id
    group by r.video_id, r.current_creator_id, l.event_id, l.user_id, l.event_type
),

recompute_anchor as (
    select
        *,
        max(case when counts = 1 then occurred_epoch end) over (partition by video_id)
            as anchor_epoch
    from recompute_events
),

recomputed as (
    select
        video_id,
        current_creator_id,
        anchor_epoch,
        {%- for s, t in signals %}
        coalesce(
            sum(
                case
                    when counts = 1 and event_type = '{{ t }}'
                        then weight * {{ exp2('(occurred_epoch - anchor_epoch) / ' ~ half_life) }}
                end
            ),
            0
        ) as {{ s }}_mass,
        {%- endfor %}
        sum(case when counts = 1 and event_type = 'like' then 1 else 0 end) as likes,
        sum(case when counts = 1 and event_type = 'comment' then 1 else 0 end) as comments,
        sum(case when counts = 1 and event_type = 'share' then 1 else 0 end) as shares,
        sum(case when counts = 1 and event_type = 'watch' then 1 else 0 end) as watches,
        coalesce(sum(case when counts = 1 then counted_watch_sec end), 0) as watch_sec,
        sum(counts) as counted_events
    from recompute_anchor
    group by video_id, current_creator_id, anchor_epoch
),

final as (
{%- if is_incremental() %}
    select
        video_id, current_creator_id, anchor_epoch,
        {%- for s, _ in signals %} {{ s }}_mass,{% endfor %}
        likes, comments, shares, watches, watch_sec, counted_events
    from combined
    where needs_recompute = 0 and lost_precision = 0

    union all
{%- endif %}

    select
        video_id, current_creator_id, anchor_epoch,
        {%- for s, _ in signals %} {{ s }}_mass,{% endfor %}
        likes, comments, shares, watches, watch_sec, counted_events
    from recomputed
)

select
    cast(video_id as {{ dbt.type_string() }}) as video_id,
    cast(current_creator_id as {{ dbt.type_string() }}) as creator_id_applied,
    cast(anchor_epoch as {{ type_double() }}) as anchor_epoch,
    cast(likes_mass + comments_mass + watch_mass + shares_mass as {{ type_double() }})
        as decayed_mass,
    {%- for s, _ in signals %}
    cast({{ s }}_mass as {{ type_double() }}) as {{ s }}_mass,
    {%- endfor %}
    cast(likes as {{ dbt.type_bigint() }}) as likes,
    cast(comments as {{ dbt.type_bigint() }}) as comments,
    cast(shares as {{ dbt.type_bigint() }}) as shares,
    cast(watches as {{ dbt.type_bigint() }}) as watches,
    cast(watch_sec as {{ type_double() }}) as watch_sec,
    cast(counted_events as {{ dbt.type_bigint() }}) as counted_events,
    cast((select max_batch_id from ledger_watermark) as {{ dbt.type_bigint() }}) as applied_batch_id
    {{ state_bucket_column(['video_id']) }}
from final
