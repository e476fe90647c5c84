"""Each client's ratings: ``ClientRatings`` (all clients concatenated) and ``client_datasets``.

item (R,) int64, rating (R,), offsets (C+1,) int64, user_ids (C,) int64: client c owns
rows offsets[c]:offsets[c+1].
"""

from dataclasses import dataclass

import numpy as np

__all__ = ["ClientRatings", "client_datasets"]


@dataclass(frozen=True)
class ClientRatings:
    """Every client's ratings concatenated: client c owns rows offsets[c]:offsets[c+1].

    item (R,) int64, rating (R,) float, offsets (C+1,) int64, user_ids (C,) int64.
    """

    item: np.ndarray
    rating: np.ndarray
    offsets: np.ndarray
    user_ids: np.ndarray

    def __post_init__(self):
        offsets = np.asarray(self.offsets, dtype=np.int64)
        if (offsets.ndim != 1 or len(offsets) != len(self.user_ids) + 1 or offsets[0] != 0
                or offsets[-1] != len(self.item) or (np.diff(offsets) < 0).any()):
            raise ValueError("ClientRatings: offsets must rise from 0 to len(item), one more "
                             "entry than user_ids")
        if len(self.rating) != len(self.item):
            raise ValueError("ClientRatings: item and rating differ in length")
        object.__setattr__(self, "offsets", offsets)

    def __len__(self):
        return len(self.user_ids)

    @property
    def num_examples(self):
        """(C,) ratings per client."""
        return np.diff(self.offsets)

    def client(self, c):
        """Client ``c``'s own (items (n,), ratings (n,))."""
        sl = slice(self.offsets[c], self.offsets[c + 1])
        return self.item[sl], self.rating[sl]

    def subset(self, clients):
        """The chosen clients only, in the given order."""
        clients = np.asarray(clients, dtype=np.int64)
        sizes = self.num_examples[clients]
        rows = (np.repeat(self.offsets[clients] - np.r_[0, np.cumsum(sizes)[:-1]], sizes)
                + np.arange(sizes.sum()))
        return ClientRatings(self.item[rows], self.rating[rows], np.r_[0, np.cumsum(sizes)],
                             self.user_ids[clients])

    def __repr__(self):
        n = self.num_examples
        return (f"ClientRatings({len(self)} clients, {len(self.item)} ratings, "
                f"{int(n.min()) if len(n) else 0}-{int(n.max()) if len(n) else 0} per client)")


def client_datasets(ratings, user_ids=None, max_examples_per_user=None, dtype=np.float64):
    """Each user's ratings as one client's data: DataFrame -> ``ClientRatings``.

    ratings: a DataFrame with user_id, item_id, rating (``MovieLens.ratings``, or the
    ``MovieLens`` itself). user_ids: which users, in this order (default: all with
    ratings). ``max_examples_per_user`` keeps each user's *first* ratings in file
    order, as the TFF tutorial does (``tf.data.Dataset.from_tensor_slices(user_df)
    .take(300)`` before it shuffles).
    """
    from ...datasets.partitions import client_ratings  # pandas only when data is built

    if hasattr(ratings, "ratings"):
        ratings = ratings.ratings
    rows = client_ratings(ratings, user_ids, max_per_user=max_examples_per_user)
    ids = np.fromiter(rows, dtype=np.int64, count=len(rows))
    sizes = np.array([len(r) for r in rows.values()], dtype=np.int64)
    flat = np.concatenate(list(rows.values())) if rows else np.zeros(0, dtype=np.int64)
    item = ratings["item_id"].to_numpy(dtype=np.int64)[flat]
    rating = ratings["rating"].to_numpy(dtype=dtype)[flat]
    return ClientRatings(item, rating, np.r_[0, np.cumsum(sizes)].astype(np.int64), ids)
