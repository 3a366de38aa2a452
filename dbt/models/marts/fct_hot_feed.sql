-- The hot feed: the top var('top_n') approved catalogue videos, less those held for a ring
-- (SPEC §3b), by hotScore at `now` (var('now_epoch'), or the time this dbt run started), score
-- desc then video_id asc.
-- <signal>_part: that signal's decayed, weighted part of hot_score (likes, comments, watch,
-- shares: they add up to hot_score; SPEC §5 explain).
-- Grain = video_id (rank 1..n).
{%- set half_life = "cast(" ~ (var('half_life_hours') * 3600) ~ " as " ~ type_double() ~ ")" -%}
{%- set now_epoch = var('now_epoch', none) -%}
{%- if now_epoch is none -%}{%- set now_epoch = run_started_at.timestamp() -%}{%- endif -%}
{%- set now_sql = "cast(" ~ now_epoch ~ " as " ~ type_double() ~ ")" %}
{#- hotScore(now) / mass: every signal's part (<signal>_part) decays by the same factor -#}
{%- set decay = exp2('(anchor_epoch - ' ~ now_sql ~ ') / ' ~ half_life) %}

with eligible as (
    select
        video_id,
        title,
        thumbnail_url,
        creator_id,
        creator_name,
        avatar_url,
        anchor_epoch,
        decayed_mass,
        likes_mass,
        comments_mass,
        watch_mass,
        shares_mass,
        score_log2,
        likes,
        comments,
        shares,
        watch_sec,
        row_number() over (
            order by
                case when score_log2 is null then 1 else 0 end,
                score_log2 desc,
                video_id asc
        ) as feed_rank
    from {{ ref('int_scored_videos') }}
    where moderation_status = 'approved' and hold_reason is null
)

select
    cast(feed_rank as {{ dbt.type_bigint() }}) as rank,
    video_id,
    cast(decayed_mass * {{ decay }} as {{ type_double() }}) as hot_score,
    title,
    thumbnail_url,
    creator_id,
    creator_name,
    avatar_url,
    likes,
    comments,
    cast(round(watch_sec) as {{ dbt.type_bigint() }}) as watch_time_sec,
    shares,
    {{ to_timestamp_from_epoch(now_sql) }} as generated_at,
    score_log2,
    {%- for s in ['likes', 'comments', 'watch', 'shares'] %}
    cast({{ s }}_mass * {{ decay }} as {{ type_double() }}) as {{ s }}_part
    {%- if not loop.last %},{% endif %}
    {%- endfor %}
from eligible
where feed_rank <= {{ var('top_n') }}
