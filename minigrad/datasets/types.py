"""The containers the loaders return (real data and synthetic stand-ins alike)."""

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["SpamCorpus", "MovieLens"]


@dataclass(repr=False)
class SpamCorpus:
    """Emails with labels and the mailbox each came from.

    texts: list of str (CRLF normalised to LF); labels: int64 array, 1 = spam, 0 = ham;
    owners: str array ('enron1' ... 'enron6' for Enron-Spam); files: path of each
    email relative to the corpus folder, e.g. 'enron1/spam/0006.2003-12-18.GP.spam.txt'.
    """

    texts: list
    labels: np.ndarray
    owners: np.ndarray
    files: list
    source: str  # 'folders', 'archives', 'folders+archives' or 'synthetic'
    num_decode_fallbacks: int = 0
    synthetic: bool = False
    notes: list = field(default_factory=list)

    def __len__(self):
        return len(self.texts)

    def counts(self):
        """Ham/spam counts per owner, as a DataFrame."""
        df = pd.DataFrame({"owner": self.owners, "label": self.labels})
        table = df.groupby("owner")["label"].agg(ham=lambda s: int((s == 0).sum()),
                                                 spam=lambda s: int((s == 1).sum()))
        table["total"] = table["ham"] + table["spam"]
        return table

    def __repr__(self):
        kind = "SYNTHETIC " if self.synthetic else ""
        return (f"{kind}SpamCorpus({len(self)} emails, {int(self.labels.sum())} spam, "
                f"{len(np.unique(self.owners))} owners, source={self.source!r})")


@dataclass(repr=False)
class MovieLens:
    """Ratings with user and item side information; ids are contiguous 0..n-1.

    ratings: DataFrame with user_id, item_id, rating, timestamp, orig_user_id, orig_item_id.
    users: DataFrame indexed by user_id with orig_user_id, gender, age, occupation, zip.
    items: DataFrame indexed by item_id with orig_item_id, title, genres (list of str).
    genre_names: the genre vocabulary, in the order of ``genre_matrix()``'s columns.
    notes: what the loader could not check or tolerated (e.g. no u.info to compare counts with).
    """

    name: str
    ratings: pd.DataFrame
    users: pd.DataFrame
    items: pd.DataFrame
    genre_names: list
    synthetic: bool = False
    notes: list = field(default_factory=list)

    @property
    def num_users(self):
        return len(self.users)

    @property
    def num_items(self):
        return len(self.items)

    def genre_matrix(self, dtype=np.float32):
        """Multi-hot genres, (num_items, len(genre_names))."""
        col = {g: j for j, g in enumerate(self.genre_names)}
        out = np.zeros((self.num_items, len(self.genre_names)), dtype=dtype)
        pairs = self.items["genres"].reset_index(drop=True).explode().dropna()
        out[pairs.index.to_numpy(), pairs.map(col).to_numpy(dtype=np.int64)] = 1
        return out

    def __repr__(self):
        kind = "SYNTHETIC " if self.synthetic else ""
        r = self.ratings
        return (f"{kind}MovieLens({self.name!r}: {len(r)} ratings, {self.num_users} users, "
                f"{self.num_items} items, mean rating {r['rating'].mean():.4f})")
