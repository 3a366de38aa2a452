-- The moderation review queue: undecided / pending_review catalogue videos that would rank in
-- the top var('top_n') if approved (they beat the N-th video of fct_hot_feed in the feed's
-- order, or the feed has fewer than N videos), by that would-be score; and every video held
-- for a ring (SPEC §3b), whatever its would-be rank. queue_reason: `coordinated_engagement`
-- for a held video (with the ring's accounts and window), else `would_trend`.
-- Grain = video_id.
{%- set half_life = "cast(" ~ (var('half_life_hours') * 3600) ~ " as " ~ type_double() ~ ")" -%}
{%- set now_epoch = var('now_epoch', none) -%}
{%- if now_epoch is none -%}{%- set now_epoch = run_started_at.timestamp() -%}{%- endif -%}
{%- set now_sql = "cast(" ~ now_epoch ~ " as " ~ type_double() ~ ")" %}

with candidates as (
    select *
    from {{ ref('int_scored_videos') }}
    where moderation_status in ('undecided', 'pending_review') or hold_reason is not null
),

merged as (
    select
        video_id,
        score_log2,
        case when score_log2 is null then 1 else 0 end as has_no_log_score,
        is_candidate
    from (
        select video_id, score_log2, 0 as is_candidate
        from {{ ref('fct_hot_feed') }}
        union all
        select video_id, score_log2, 1 as is_candidate
        from candidates
    ) as both_sets
),

positioned as (
    select
        video_id,
        is_candidate,
        row_number() over (
            order by has_no_log_score, score_log2 desc, video_id asc
        ) as merged_position,
        sum(is_candidate) over (
            order by has_no_log_score, score_log2 desc, video_id asc
            rows between unbounded preceding and current row
        ) as candidate_position
    from merged
),

queued as (
    select
        video_id,
        candidate_position as queue_rank,
        merged_position - candidate_position + 1 as would_be_rank
    from positioned
    where is_candidate = 1
)

select
    cast(q.queue_rank as {{ dbt.type_bigint() }}) as rank,
    cast(q.would_be_rank as {{ dbt.type_bigint() }}) as would_be_rank,
    c.video_id,
    cast(c.decayed_mass * {{ exp2('(c.anchor_epoch - ' ~ now_sql ~ ') / ' ~ half_life) }}
        as {{ type_double() }}) as hot_score,
    c.title,
    c.thumbnail_url,
    c.creator_id,
    c.creator_name,
    c.avatar_url,
    c.likes,
    c.comments,
    cast(round(c.watch_sec) as {{ dbt.type_bigint() }}) as watch_time_sec,
    c.shares,
    {{ to_timestamp_from_epoch(now_sql) }} as generated_at,
    c.moderation_status,
    c.score_log2,
    coalesce(c.hold_reason, 'would_trend') as queue_reason,
    c.ring_accounts,
    c.ring_accounts_sample,
    c.ring_window_start,
    c.ring_window_end
from queued as q
inner join candidates as c on q.video_id = c.video_id
where q.would_be_rank <= {{ var('top_n') }} or c.hold_reason is not null
