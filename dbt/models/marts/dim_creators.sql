-- The creator catalogue as it is now. Grain = creator_id.
select
    creator_id,
    creator_name,
    avatar_url,
    batch_id as catalogue_batch_id
from {{ ref('int_latest_creators') }}
