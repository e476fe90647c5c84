"""Synthetic stand-ins for Enron-Spam and MovieLens: same containers, planted structure.

They let every notebook and test run without the real data (``MINIGRAD_DATA=synthetic``).
Each generator is a pure function of its seed, and what it returns says it is synthetic
(``synthetic=True``, ``source='synthetic'`` / a ``'synthetic-'`` name, and the banner in
``notes``). The structure is planted on purpose so a model has something to find:

* spam: some words are spam-indicative, some ham-indicative, each mailbox has its own
  ham topic words, and the ham/spam mix per mailbox follows the real corpus (three
  mostly-ham owners, three mostly-spam ones). A fraction of emails mix both kinds of
  words, so a bag-of-words model learns it well but not perfectly.
* MovieLens: ratings come from user and item biases, latent factors, and genre
  preferences driven by gender, age and occupation, then are cut into 1..5 stars so the
  star histogram matches the real one. Item popularity is long-tailed, every
  user rates at least 20 movies and every movie is rated at least once (given
  enough ratings).
"""

import numpy as np
import pandas as pd

from .paths import SYNTHETIC, synthetic_banner
from .types import MovieLens, SpamCorpus

__all__ = [
    "synthetic_spam",
    "synthetic_movielens",
    "SPAM_WORDS",
    "HAM_WORDS",
    "FILLER_WORDS",
    "ML100K_GENRES",
    "ML1M_GENRES",
    "ML100K_OCCUPATIONS",
    "ML1M_OCCUPATIONS",
]


# ---------------------------------------------------------------------------
# shared helpers
# ---------------------------------------------------------------------------
def _allocate(total, weights, caps=None):
    """Split the integer ``total`` proportionally to ``weights`` without exceeding ``caps``.

    weights (n,) > 0, caps (n,) or None -> int64 (n,) summing to ``total``
    (largest-remainder rounding; capped entries are filled first, the rest re-shared).
    """
    weights = np.asarray(weights, dtype=np.float64)
    n = len(weights)
    caps = np.full(n, np.inf) if caps is None else np.asarray(caps, dtype=np.float64)
    if total > caps.sum():
        raise ValueError(f"cannot allocate {total} into caps summing to {caps.sum():.0f}")
    share = np.zeros(n)
    free = np.ones(n, dtype=bool)
    for _ in range(n + 1):
        remaining = total - share[~free].sum()
        share[free] = remaining * weights[free] / weights[free].sum()
        over = free & (share > caps)
        if not over.any():
            break
        share[over] = caps[over]
        free &= ~over
    base = np.minimum(np.floor(share), caps).astype(np.int64)
    short = int(total - base.sum())
    room = base < caps
    frac = np.where(room, share - base, -np.inf)
    top = np.argsort(-frac, kind="stable")[:short]
    base[top] += 1
    return base


def _pseudo_words(rng, count, syllables=(2, 3), exclude=()):
    """``count`` distinct lowercase pseudo-words built from syllables, none in ``exclude``."""
    onsets = np.array(list("bcdfghklmnprstvz") + ["br", "ch", "st", "tr", "pl", "gr", "sh"])
    vowels = np.array(["a", "e", "i", "o", "u", "ai", "ou", "ea"])
    codas = np.array(["", "", "", "n", "r", "s", "l", "t", "m", "x"])
    words = {}  # insertion-ordered set
    exclude = set(exclude)
    while len(words) < count:
        m = 2 * (count - len(words)) + 8
        k = rng.integers(syllables[0], syllables[1] + 1, size=m)
        parts = [np.char.add(rng.choice(onsets, size=m), rng.choice(vowels, size=m))
                 for _ in range(syllables[1])]
        stem = parts[0]
        for j, part in enumerate(parts[1:], start=2):
            stem = np.where(k >= j, np.char.add(stem, part), stem)
        for w in np.char.add(stem, rng.choice(codas, size=m)).tolist():
            if w not in exclude:
                words.setdefault(w, None)
    return np.array(list(words)[:count], dtype=object)


def _zipf(size, exponent=1.0, offset=2.0):
    """Zipf-like probabilities over ``size`` ranks: p_r proportional to (r + offset)^-exponent."""
    p = (np.arange(size) + offset) ** -exponent
    return p / p.sum()


# ---------------------------------------------------------------------------
# Enron-Spam stand-in
# ---------------------------------------------------------------------------
SPAM_WORDS = (
    "free offer click money save cheap discount pills pharmacy prescription meds "
    "mortgage loan credit rates investment stock profit guaranteed winner prize cash "
    "bonus limited exclusive unsubscribe remove software oem dollars million bank "
    "account urgent congratulations order shipping online website viagra casino "
    "lottery refinance debt approved satisfaction risk hot sexy weight diet herbal "
    "replica watches quote dear sir opportunity income wealth miracle amazing"
).split()
"""Words planted as spam-indicative (the generator draws them mostly in spam)."""

HAM_WORDS = (
    "enron meeting schedule attached report forecast contract agreement pipeline "
    "capacity gas power trading desk deal volume review conference call thanks "
    "regards team project group model research data analysis presentation budget "
    "office houston ect hou cc subject re fw vince kaminski daren farmer nom "
    "meter flow scheduling counterparty transport interview resume summer intern "
    "question discuss tomorrow monday friday week update"
).split()
"""Words planted as ham-indicative (the generator draws them mostly in ham)."""

FILLER_WORDS = (
    "the , . to and of a in for you is on that this with be it your are i we will "
    "at as from have by not or our can all if : - please any me an was would there "
    "more one has get so do what know they but new out just time up about need "
    "may here now also should their other some been which could see make like "
    "them only first two than then well back over into these its how want"
).split()
"""Common words and punctuation shared by ham and spam (no signal)."""

# (size, spam fraction) of enron1..enron6 in the real corpus (Metsis et al., 2006)
_ENRON_SIZES = np.array([5172, 5857, 5512, 6000, 5175, 6000])
_ENRON_SPAM_FRACTIONS = np.array([1500 / 5172, 1496 / 5857, 1500 / 5512,
                                  4500 / 6000, 3675 / 5175, 4500 / 6000])


def synthetic_spam(num_emails=2000, seed=0, num_owners=6):
    """A generated SpamCorpus with planted spam/ham words; deterministic in ``seed``.

    Returns a SpamCorpus of ``num_emails`` emails with owners 'synthetic1' ...
    'synthetic{num_owners}', ordered by owner, then ham before spam, and files such as
    'synthetic1/spam/0001.txt'. Texts look like the preprocessed Enron-Spam ones:
    a 'Subject: ...' line, then a body of space-separated lowercase tokens over lines.
    Lengths are log-normal (median about 100 words; about 5% are over 500 words).
    """
    if num_owners < 1:
        raise ValueError(f"num_owners must be >= 1, got {num_owners}")
    if num_emails < 2 * num_owners:
        raise ValueError(f"num_emails={num_emails} is too small for {num_owners} owners "
                         f"(need at least 2 per owner: one ham, one spam)")
    rng = np.random.default_rng(seed)

    # --- who owns what: sizes and ham/spam mix per owner follow the real enron1..6 ---
    sizes = _allocate(num_emails, np.resize(_ENRON_SIZES, num_owners))
    spam_frac = np.resize(_ENRON_SPAM_FRACTIONS, num_owners)
    num_spam = np.clip(np.rint(sizes * spam_frac).astype(np.int64), 1, sizes - 1)
    owner_names = np.array([f"synthetic{k + 1}" for k in range(num_owners)], dtype=object)
    owner_idx = np.repeat(np.arange(num_owners), sizes)
    labels = np.concatenate([np.r_[np.zeros(s - p, np.int64), np.ones(p, np.int64)]
                             for s, p in zip(sizes, num_spam, strict=True)])
    n = num_emails

    # --- vocabulary: one string array, categories are contiguous slices of it ---
    topic_size = 30
    tail = _pseudo_words(rng, 3000 + topic_size * num_owners,
                         exclude=SPAM_WORDS + HAM_WORDS + FILLER_WORDS)
    vocab = np.concatenate([np.array(FILLER_WORDS, object), tail[:3000],
                            np.array(SPAM_WORDS, object), np.array(HAM_WORDS, object),
                            tail[3000:]])
    sizes_by_cat = [len(FILLER_WORDS), 3000, len(SPAM_WORDS), len(HAM_WORDS)]
    offsets = np.cumsum([0, *sizes_by_cat])  # filler, tail, spam, ham, owner topics
    FILLER, TAIL, SPAM, HAM, TOPIC = range(5)

    # --- per-email mixture: how much signal, and how clean it is ---
    signal = rng.beta(2.0, 10.0, size=n)                       # share of indicative words
    ambiguous = rng.random(n) < 0.06                           # these mix both kinds
    purity = np.where(ambiguous, rng.uniform(0.35, 0.6, n), rng.uniform(0.8, 0.95, n))
    topic = np.where(labels == 0, rng.uniform(0.02, 0.08, n), 0.0)
    own = np.where(labels == 1, SPAM, HAM)
    other = np.where(labels == 1, HAM, SPAM)

    body_len = np.clip(np.rint(rng.lognormal(np.log(100.0), 0.95, n)), 5, 3000).astype(np.int64)
    subj_len = rng.integers(2, 9, size=n)
    length = subj_len + body_len
    email = np.repeat(np.arange(n), length)
    total = int(length.sum())

    # each token's category, from per-email cumulative thresholds
    u = rng.random(total)
    c_own = (signal * purity)[email]
    c_other = c_own + (signal * (1 - purity))[email]
    c_topic = c_other + topic[email]
    cat = np.where(u < c_own, own[email],
                   np.where(u < c_other, other[email],
                            np.where(u < c_topic, TOPIC,
                                     np.where(rng.random(total) < 0.75, FILLER, TAIL))))

    word = np.empty(total, dtype=np.int64)
    for c, size in enumerate(sizes_by_cat):
        mask = cat == c
        word[mask] = offsets[c] + rng.choice(size, size=int(mask.sum()), p=_zipf(size, 1.0))
    mask = cat == TOPIC
    word[mask] = (offsets[TOPIC] + topic_size * owner_idx[email[mask]]
                  + rng.choice(topic_size, size=int(mask.sum()), p=_zipf(topic_size, 0.8)))
    tokens = vocab[word]

    # --- assemble texts: 'Subject: ...' line, then about 12 words per line ---
    start = np.r_[0, np.cumsum(length)[:-1]]
    pos = np.arange(total) - start[email]
    in_body = pos >= subj_len[email]
    body_pos = pos - subj_len[email]
    sep = np.where(in_body & (body_pos % 12 == 11), "\n", " ").astype(object)
    sep[(start + subj_len - 1)] = "\n"          # end of the subject line
    sep[start + length - 1] = ""
    pieces = np.empty(2 * total, dtype=object)
    pieces[0::2] = tokens
    pieces[1::2] = sep
    texts = ["Subject: " + "".join(pieces[2 * a: 2 * b])
             for a, b in zip(start, start + length, strict=True)]

    # --- files: owner/label/NNNN.txt, numbered from 1 within each folder ---
    folder = owner_idx * 2 + labels
    is_first = np.r_[True, folder[1:] != folder[:-1]]
    folder_start = np.flatnonzero(is_first)
    number = np.arange(n) - folder_start[np.cumsum(is_first) - 1] + 1
    kinds = np.array(["ham", "spam"])
    files = [f"{o}/{k}/{i:04d}.txt"
             for o, k, i in zip(owner_names[owner_idx], kinds[labels], number, strict=True)]

    return SpamCorpus(
        texts=texts,
        labels=labels,
        owners=owner_names[owner_idx].astype(str),
        files=files,
        source=SYNTHETIC,
        synthetic=True,
        notes=[synthetic_banner("the Enron-Spam corpus"),
               f"synthetic_spam(num_emails={num_emails}, seed={seed}, "
               f"num_owners={num_owners})"],
    )


# ---------------------------------------------------------------------------
# MovieLens stand-in
# ---------------------------------------------------------------------------
ML100K_GENRES = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy",
                 "Crime", "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror",
                 "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western"]
"""The 19 genre names of ml-100k's u.genre, in file order."""

ML1M_GENRES = ML100K_GENRES[1:]
"""The 18 genre names of ml-1m (no 'unknown')."""

ML100K_OCCUPATIONS = {  # name: number of users in real ml-100k (used as sampling weights)
    "administrator": 79, "artist": 28, "doctor": 7, "educator": 95, "engineer": 67,
    "entertainment": 18, "executive": 32, "healthcare": 16, "homemaker": 7, "lawyer": 12,
    "librarian": 51, "marketing": 26, "none": 9, "other": 105, "programmer": 66,
    "retired": 14, "salesman": 12, "scientist": 31, "student": 196, "technician": 27,
    "writer": 45,
}
"""ml-100k occupation names with their user counts in the real data."""

ML1M_OCCUPATIONS = [
    "other", "academic/educator", "artist", "clerical/admin", "college/grad student",
    "customer service", "doctor/health care", "executive/managerial", "farmer",
    "homemaker", "K-12 student", "lawyer", "programmer", "retired", "sales/marketing",
    "scientist", "self-employed", "technician/engineer", "tradesman/craftsman",
    "unemployed", "writer",
]
"""ml-1m occupation names; users.dat stores the code (position in this list), the loader
and the stand-in give the name."""

_ML1M_AGES = np.array([1, 18, 25, 35, 45, 50, 56])
_ML1M_AGE_P = np.array([222, 1103, 2096, 1193, 550, 496, 380]) / 6040

_SIZES = {  # users, items, rated items, ratings, first and last timestamp of the real files
    "ml-100k": (943, 1682, 1682, 100_000, 874_724_710, 893_286_638),
    "ml-1m": (6040, 3883, 3706, 1_000_209, 956_703_932, 1_046_454_590),
}

# real star histograms (counts of 1..5 stars), used to cut the latent score into stars
_STAR_COUNTS = {"ml-100k": np.array([6110, 11370, 27145, 34174, 21201]),
                "ml-1m": np.array([56174, 107557, 261197, 348971, 226310])}

# planted genre effects on the latent scale, by genre name
_GENRE_MAIN = {"Film-Noir": 0.35, "War": 0.25, "Documentary": 0.2, "Drama": 0.15,
               "Mystery": 0.1, "Crime": 0.1, "Animation": 0.1, "Comedy": -0.1,
               "Fantasy": -0.1, "Children's": -0.25, "Horror": -0.35, "unknown": -0.2}
_FEMALE_MINUS_MALE = {"Romance": 0.5, "Drama": 0.25, "Musical": 0.3, "Children's": 0.2,
                      "Action": -0.35, "War": -0.3, "Horror": -0.3, "Sci-Fi": -0.3,
                      "Western": -0.25, "Crime": -0.1}
_PER_DECADE_OF_AGE = {"Film-Noir": 0.2, "Documentary": 0.15, "War": 0.15, "Drama": 0.1,
                      "Western": 0.1, "Mystery": 0.1, "Animation": -0.2,
                      "Children's": -0.15, "Horror": -0.15, "Sci-Fi": -0.1,
                      "Action": -0.1, "Comedy": -0.1}
_OCCUPATION_LIKES = {  # substring of an occupation name: genre effects
    "student": {"Comedy": 0.2, "Action": 0.15, "Horror": 0.15, "Documentary": -0.2},
    "retired": {"War": 0.25, "Western": 0.25, "Horror": -0.25},
    "programmer": {"Sci-Fi": 0.5, "Fantasy": 0.1, "Romance": -0.15},
    "engineer": {"Sci-Fi": 0.25, "Action": 0.1},
    "scientist": {"Sci-Fi": 0.3, "Documentary": 0.2},
    "artist": {"Film-Noir": 0.2, "Musical": 0.2, "Action": -0.15},
    "writer": {"Drama": 0.2, "Film-Noir": 0.2, "Action": -0.15},
    "educator": {"Documentary": 0.25, "Drama": 0.1},
    "homemaker": {"Romance": 0.25, "Children's": 0.25},
}


def _effect_vector(effects, genre_names):
    return np.array([effects.get(g, 0.0) for g in genre_names])


def synthetic_movielens(name="ml-100k", num_users=None, num_items=None, seed=0,
                        num_ratings=None, return_truth=False):
    """A generated MovieLens with planted biases, factors and genre tastes; deterministic.

    name: 'ml-100k' (943 users, 1682 items, 100,000 ratings) or 'ml-1m' (6040 users,
    3883 items of which 3706 rated, 1,000,209 ratings, as the loader gives) sets the
    defaults and the side-information schema (ml-1m: age codes 1/18/.../56 as in
    users.dat, occupation names as the loader maps them). Other ``num_users`` /
    ``num_items`` keep that dataset's density (at least 30 ratings per user on average)
    unless ``num_ratings`` is given. Every user rates 20 to max(20, rated // 2) movies;
    every movie meant to be rated (all, in ml-100k) is, when there are ratings enough.
    Returns MovieLens(name='synthetic-<name>', synthetic=True); ratings sorted by user,
    then time. With ``return_truth=True`` also a dict of the planted quantities:
    user_bias (U,), item_bias (I,), user_factors (U, 8), item_factors (I, 8),
    user_genre_taste (U, G), genre_effect (G,), popularity (I,), score (R,) latent
    score of each rating row, and thresholds (4,) cutting scores into 1..5 stars.
    """
    if name not in _SIZES:
        raise ValueError(f"unknown MovieLens name {name!r}; expected one of {sorted(_SIZES)}")
    u0, i0, rated0, r0, t_first, t_last = _SIZES[name]
    num_users = u0 if num_users is None else int(num_users)
    num_items = i0 if num_items is None else int(num_items)
    num_rated = int(round(num_items * rated0 / i0))   # ml-1m lists movies nobody rated
    if num_users < 1:
        raise ValueError(f"num_users must be >= 1, got {num_users}")
    if num_rated < 20:
        raise ValueError(f"num_items={num_items} is too few: every user must be able to "
                         f"rate 20 items")
    max_per_user = max(20, int(0.5 * num_rated))
    if num_ratings is None:
        if (num_users, num_items) == (u0, i0):
            num_ratings = r0
        else:
            per_user = max(30.0, r0 / u0 * num_items / i0)
            num_ratings = int(round(num_users * per_user))
        num_ratings = min(num_ratings, num_users * max_per_user)
    if not 20 * num_users <= num_ratings <= num_users * max_per_user:
        raise ValueError(f"num_ratings={num_ratings} must lie in [{20 * num_users}, "
                         f"{num_users * max_per_user}] (20 to {max_per_user} per user)")

    rng = np.random.default_rng(seed)
    genre_names = list(ML100K_GENRES if name == "ml-100k" else ML1M_GENRES)
    G, U, I = len(genre_names), num_users, num_items
    rank = 8

    users = _synthetic_users(rng, name, U)
    items, genre_mh = _synthetic_items(rng, name, I, genre_names)

    # --- planted parameters ---
    log_pop = rng.normal(0.0, 1.4, size=I)                    # long-tailed popularity
    rated = np.ones(I, dtype=bool)
    rated[rng.permutation(I)[: I - num_rated]] = False
    popularity = np.where(rated, np.exp(log_pop), 0.0)
    popularity /= popularity.sum()
    z_pop = (log_pop - log_pop.mean()) / log_pop.std()
    item_bias = 0.5 * (0.5 * z_pop + np.sqrt(0.75) * rng.normal(size=I))
    user_bias = rng.normal(0.0, 0.45, size=U)
    user_factors = rng.normal(0.0, 1.0, size=(U, rank)) / rank ** 0.25
    item_factors = rng.normal(0.0, 0.5, size=(I, rank)) / rank ** 0.25

    genre_effect = _effect_vector(_GENRE_MAIN, genre_names)
    female = (users["gender"].to_numpy() == "F").astype(np.float64)
    age = users["age"].to_numpy().astype(np.float64)
    occ_list, occ_idx = np.unique(users["occupation"].to_numpy().astype(str),
                                  return_inverse=True)
    occ_taste = rng.normal(0.0, 0.1, size=(len(occ_list), G))
    for j, occ in enumerate(occ_list):
        for key, likes in _OCCUPATION_LIKES.items():
            if key in occ:
                occ_taste[j] += _effect_vector(likes, genre_names)
    user_genre_taste = ((female - 0.5)[:, None] * _effect_vector(_FEMALE_MINUS_MALE,
                                                                 genre_names)
                        + ((age - 33.0) / 10.0)[:, None] * _effect_vector(_PER_DECADE_OF_AGE,
                                                                          genre_names)
                        + occ_taste[occ_idx]
                        + rng.normal(0.0, 0.1, size=(U, G)))
    genre_weights = genre_mh / genre_mh.sum(axis=1, keepdims=True)   # mean over its genres
    item_genre = genre_weights @ genre_effect                        # (I,)

    # --- how many ratings each user gives: at least 20, heavy-tailed ---
    activity = rng.lognormal(0.0, 1.1, size=U)
    counts = 20 + _allocate(num_ratings - 20 * U, activity, np.full(U, max_per_user - 20))

    # every item gets one guaranteed rater, drawn in proportion to how much users rate
    # (when there are too few ratings for that, as many items as possible do)
    caps = np.maximum(counts - 10, 0)
    guaranteed = _allocate(min(num_rated, int(caps.sum())), counts.astype(np.float64), caps)
    forced_user = rng.permutation(np.repeat(np.arange(U), guaranteed))
    forced_item = rng.permutation(np.flatnonzero(rated))[: len(forced_user)]

    # --- which items: Gumbel top-k on log popularity (Efraimidis-Spirakis keys) ---
    # Users go in blocks of similar counts, so each block only sorts its top k_max keys.
    user_of, item_of, score_of = [], [], []
    log_p = np.full(I, -np.inf, dtype=np.float32)             # unrated items never drawn
    log_p[rated] = np.log(popularity[rated])
    user_side = np.hstack([user_factors, user_genre_taste])     # (U, rank + G)
    item_side = np.hstack([item_factors, genre_weights])         # (I, rank + G)
    by_count = np.argsort(counts, kind="stable")
    forced_at = np.argsort(by_count)[forced_user]          # position of each forced user
    for lo in range(0, U, 128):
        who = by_count[lo: lo + 128]
        k_max = int(counts[who].max())
        exp = rng.standard_exponential((len(who), I), dtype=np.float32)
        keys = log_p - np.log(np.maximum(exp, np.float32(1e-30)))
        f = (forced_at >= lo) & (forced_at < lo + 128)
        keys[forced_at[f] - lo, forced_item[f]] = np.inf
        top = np.argpartition(-keys, k_max - 1, axis=1)[:, :k_max]
        top = np.take_along_axis(top, np.argsort(-np.take_along_axis(keys, top, axis=1),
                                                 axis=1), axis=1)
        chosen = np.arange(k_max)[None, :] < counts[who][:, None]
        rows = np.broadcast_to(np.arange(len(who))[:, None], top.shape)[chosen]
        cols = top[chosen]
        user_of.append(who[rows])
        item_of.append(cols)
        # only the chosen (user, item) pairs: factors . factors + taste . item's genres
        score_of.append(np.einsum("rk,rk->r", user_side[who[rows]], item_side[cols]))
    user_id = np.concatenate(user_of)
    item_id = np.concatenate(item_of)
    score = (np.concatenate(score_of) + user_bias[user_id] + item_bias[item_id]
             + item_genre[item_id] + rng.normal(0.0, 0.75, size=len(user_id)))

    # cut the latent score at the quantiles of the real star histogram
    star_p = _STAR_COUNTS[name] / _STAR_COUNTS[name].sum()
    thresholds = np.quantile(score, np.cumsum(star_p)[:-1])
    rating = 1 + np.searchsorted(thresholds, score, side="right").astype(np.int64)

    # --- timestamps: per-user sessions, strictly increasing within a user ---
    timestamp = _timestamps(rng, counts, t_first, t_last)

    # users in blocks by id; within a user, a random order in time (not by popularity)
    within = np.lexsort((rng.random(len(user_id)), user_id))
    user_id, item_id, rating, score = (user_id[within], item_id[within], rating[within],
                                       score[within])

    ratings = pd.DataFrame({
        "user_id": user_id.astype(np.int64),
        "item_id": item_id.astype(np.int64),
        "rating": rating,
        "timestamp": timestamp,
        "orig_user_id": users["orig_user_id"].to_numpy()[user_id],
        "orig_item_id": items["orig_item_id"].to_numpy()[item_id],
    })
    movielens = MovieLens(name=f"{SYNTHETIC}-{name}", ratings=ratings, users=users,
                          items=items, genre_names=genre_names, synthetic=True)
    if not return_truth:
        return movielens
    truth = {"user_bias": user_bias, "item_bias": item_bias, "user_factors": user_factors,
             "item_factors": item_factors, "user_genre_taste": user_genre_taste,
             "genre_effect": genre_effect, "popularity": popularity, "score": score,
             "thresholds": thresholds}
    return movielens, truth


def _synthetic_users(rng, name, U):
    """users DataFrame indexed by user_id: orig_user_id, gender, age, occupation, zip."""
    gender = np.where(rng.random(U) < 0.71, "M", "F")
    if name == "ml-100k":
        age = np.clip(np.rint(14 + rng.gamma(2.6, 7.5, size=U)), 7, 73).astype(np.int64)
        names = np.array(list(ML100K_OCCUPATIONS), dtype=object)
        weights = np.array(list(ML100K_OCCUPATIONS.values()), dtype=np.float64)
        occupation = names[rng.choice(len(names), size=U, p=weights / weights.sum())]
        occupation = occupation.astype(str)
    else:
        age = rng.choice(_ML1M_AGES, size=U, p=_ML1M_AGE_P).astype(np.int64)
        codes = rng.integers(0, len(ML1M_OCCUPATIONS), size=U)
        occupation = np.array(ML1M_OCCUPATIONS, dtype=object)[codes].astype(str)
    zip_code = np.char.zfill(rng.integers(0, 100_000, size=U).astype(str), 5)
    users = pd.DataFrame({"orig_user_id": np.arange(1, U + 1, dtype=np.int64),
                          "gender": gender, "age": age, "occupation": occupation,
                          "zip": zip_code},
                         index=pd.RangeIndex(U, name="user_id"))
    return users


def _synthetic_items(rng, name, I, genre_names):
    """items DataFrame indexed by item_id (orig_item_id, title, genres) and its multi-hot."""
    G = len(genre_names)
    # genre frequencies roughly as in ml-100k (Drama, Comedy most common)
    freq = {"unknown": 0.0, "Action": 251, "Adventure": 135, "Animation": 42,
            "Children's": 122, "Comedy": 505, "Crime": 109, "Documentary": 50,
            "Drama": 725, "Fantasy": 22, "Film-Noir": 24, "Horror": 92, "Musical": 56,
            "Mystery": 61, "Romance": 247, "Sci-Fi": 101, "Thriller": 251, "War": 71,
            "Western": 27}
    w = np.array([freq[g] for g in genre_names], dtype=np.float64)
    num_genres = rng.choice([1, 2, 3], size=I, p=[0.5, 0.35, 0.15])
    with np.errstate(divide="ignore"):
        keys = np.log(w) + rng.gumbel(size=(I, G))
    order = np.argsort(-keys, axis=1, kind="stable")
    chosen = np.arange(G)[None, :] < num_genres[:, None]
    genre_mh = np.zeros((I, G))
    genre_mh[np.broadcast_to(np.arange(I)[:, None], order.shape)[chosen], order[chosen]] = 1
    if "unknown" in genre_names and I >= 100:   # as in ml-100k: two 'unknown'-only items
        odd = rng.choice(I, size=2, replace=False)
        genre_mh[odd] = 0
        genre_mh[odd, genre_names.index("unknown")] = 1
    last_year = 1998 if name == "ml-100k" else 2000
    year = np.clip(last_year - np.floor(rng.exponential(7.0, size=I)), 1922, last_year)
    orig = np.arange(1, I + 1, dtype=np.int64)
    titles = [f"Synthetic movie {k} ({y})" for k, y in zip(orig, year.astype(int), strict=True)]
    names = np.array(genre_names, dtype=object)
    genres = [list(names[row.astype(bool)]) for row in genre_mh]
    items = pd.DataFrame({"orig_item_id": orig, "title": titles, "genres": genres},
                         index=pd.RangeIndex(I, name="item_id"))
    return items, genre_mh


def _timestamps(rng, counts, t_first, t_last):
    """Strictly increasing int64 times per user, users laid out in blocks: (sum(counts),)."""
    U = len(counts)
    n = int(counts.sum())
    owner = np.repeat(np.arange(U), counts)
    start = np.r_[0, np.cumsum(counts)[:-1]]
    # minutes apart within a session, occasionally days apart between sessions
    pace = rng.lognormal(np.log(60.0), 1.0, size=U)
    gap = rng.exponential(1.0, size=n) * pace[owner]
    new_session = rng.random(n) < 0.03
    gap = np.where(new_session, rng.exponential(5 * 86400.0, size=n), gap)
    gap[start] = 0.0
    span = np.bincount(owner, weights=gap, minlength=U)
    room = float(t_last - t_first) - counts            # leave a second per rating
    shrink = np.minimum(1.0, room / np.maximum(span, 1.0))
    step = np.floor(gap * shrink[owner]).astype(np.int64) + 1
    step[start] = 0
    elapsed = np.cumsum(step) - np.repeat(np.cumsum(step)[start], counts)
    total = elapsed[start + counts - 1]
    begin = t_first + np.floor(rng.random(U) * (t_last - t_first - total)).astype(np.int64)
    return begin[owner] + elapsed
