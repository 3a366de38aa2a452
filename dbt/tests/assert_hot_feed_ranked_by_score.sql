-- fct_hot_feed: at most var('top_n') rows, each video once, and rank follows
-- (score desc, video_id asc): score_log2 never increases with rank, ties ascend by video_id,
-- and hot_score never increases with rank (beyond float rounding).
with ordered as (
    select
        rank,
        video_id,
        hot_score,
        score_log2,
        lag(video_id) over (order by rank) as prev_video_id,
        lag(hot_score) over (order by rank) as prev_hot_score,
        lag(score_log2) over (order by rank) as prev_score_log2
    from {{ ref('fct_hot_feed') }}
),

violations as (
    select 'order' as problem, rank, video_id
    from ordered
    where prev_score_log2 is not null
      and (
          score_log2 > prev_score_log2
          or (score_log2 = prev_score_log2 and video_id <= prev_video_id)
          or hot_score > prev_hot_score * (1 + 1e-9)
      )

    union all

    select 'too_many_rows' as problem, max(rank) as rank, cast(null as {{ dbt.type_string() }}) as video_id
    from {{ ref('fct_hot_feed') }}
    having count(*) > {{ var('top_n') }}

    union all

    select 'duplicate_video' as problem, min(rank) as rank, video_id
    from {{ ref('fct_hot_feed') }}
    group by video_id
    having count(*) > 1
)

select * from violations
