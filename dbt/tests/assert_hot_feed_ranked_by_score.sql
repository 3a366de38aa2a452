-- fct_hot_feed: at most var('top_n') rows, each video once, and rank follows (score desc,
-- video_id asc): score_log2 (null = zero score, ranked last) never increases with rank, ties
-- ascend by video_id, and hot_score never increases with rank (beyond float rounding).
with ordered as (
    select
        rank,
        video_id,
        hot_score,
        coalesce(score_log2, -1.7976931348623157e308) as score_key,
        lag(video_id) over (order by rank) as prev_video_id,
        lag(hot_score) over (order by rank) as prev_hot_score,
        lag(coalesce(score_log2, -1.7976931348623157e308)) over (order by rank) as prev_score_key
    from {{ ref('fct_hot_feed') }}
),

violations as (
    select 'order' as problem, rank, video_id
    from ordered
    where prev_video_id is not null
      and (
          score_key > prev_score_key
          or (score_key = prev_score_key and video_id <= prev_video_id)
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
