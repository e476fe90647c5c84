"""MovieLens 100K and 1M through one loader: contiguous ids, and errors that name file and line.

    from minigrad.datasets.movielens import load_movielens
    ml = load_movielens("ml-100k")    # MovieLens('ml-100k': 100000 ratings, 943 users, ...)

Every file is parsed by pandas' C parser after vectorized checks on its bytes (field
counts, integer fields, encoding). Only when a check fails does a slow scan look at
single lines, so that the DatasetError names the file, the 1-based line number, what
was expected and what was found. No line is ever dropped.

Files as published by GroupLens (https://grouplens.org/datasets/movielens/):
  ml-100k: u.data  user id <tab> item id <tab> rating <tab> timestamp
           u.user  user id|age|gender|occupation|zip code
           u.item  movie id|title|release date|video release date|IMDb URL|19 genre flags
           u.genre genre|index  (names of u.item's flags, in order)
  ml-1m:   ratings.dat UserID::MovieID::Rating::Timestamp
           users.dat   UserID::Gender::Age::Occupation::Zip-code
           movies.dat  MovieID::Title::Genres  (genres separated by '|')

The counts the dataset states about itself are checked too, so a truncated or foreign
file cannot pass for the real one: ml-100k's u.info ('943 users', '1682 items',
'100000 ratings') and ml-1m's README ('1,000,209 anonymous ratings ... made by 6,040
MovieLens users'; its 'approximately 3,900 movies' is not exact and is not checked).
"""

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .paths import (
    DOWNLOAD_HINT,
    SYNTHETIC,
    DatasetError,
    data_root,
    dataset_dir,
    synthetic_banner,
)
from .types import MovieLens

__all__ = ["load_movielens", "FILES", "ML1M_AGES", "ML1M_OCCUPATIONS", "ML1M_GENRES"]

FILES = {
    "ml-100k": ("u.data", "u.item", "u.user", "u.genre"),
    "ml-1m": ("ratings.dat", "users.dat", "movies.dat"),
}
"""The files each dataset needs; the first one holds the ratings."""

ML1M_AGES = {1: "Under 18", 18: "18-24", 25: "25-34", 35: "35-44", 45: "45-49", 50: "50-55",
             56: "56+"}
"""ml-1m's age codes (users.dat keeps the code, the lower end of each range), from its README."""

ML1M_OCCUPATIONS = (
    "other",  # the README says: 0: "other" or not specified
    "academic/educator", "artist", "clerical/admin", "college/grad student",
    "customer service", "doctor/health care", "executive/managerial", "farmer", "homemaker",
    "K-12 student", "lawyer", "programmer", "retired", "sales/marketing", "scientist",
    "self-employed", "technician/engineer", "tradesman/craftsman", "unemployed", "writer",
)
"""ml-1m's occupation names, indexed by the code in users.dat (0..20), from its README."""

ML1M_GENRES = (
    "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
    "War", "Western",
)
"""ml-1m's genre vocabulary, in its README's order."""

_NEWLINE, _TAB = 10, 9
_INT64_MAX = np.iinfo(np.int64).max
_DELIMITERS = {b"\t": "tab", b"|": "'|'", b"::": "'::'", b",": "','", b";": "';'", b" ": "space"}


@dataclass(frozen=True)
class _Spec:
    """The layout of one MovieLens file: separator, field names, which fields are integers."""

    file: str
    sep: bytes  # as written in the file; '::' is turned into a tab before parsing
    fields: tuple
    ints: frozenset  # indexes of fields that must be non-negative integers
    ascii: bool  # False: text fields are latin-1 (or UTF-8 in a re-encoded copy)

    @property
    def parse_sep(self):
        return b"\t" if self.sep == b"::" else self.sep

    def layout(self):
        return (f"{len(self.fields)} fields separated by {_DELIMITERS[self.sep]} "
                f"({' | '.join(self.fields)})")


def _ints(n):
    return frozenset(range(n))


_SPECS = {
    "u.data": _Spec("u.data", b"\t", ("user id", "item id", "rating", "timestamp"), _ints(4), True),
    "u.user": _Spec("u.user", b"|", ("user id", "age", "gender", "occupation", "zip code"),
                    frozenset({0, 1}), True),
    "u.genre": _Spec("u.genre", b"|", ("genre", "index"), frozenset({1}), True),
    "ratings.dat": _Spec("ratings.dat", b"::", ("UserID", "MovieID", "Rating", "Timestamp"),
                         _ints(4), True),
    "users.dat": _Spec("users.dat", b"::", ("UserID", "Gender", "Age", "Occupation", "Zip-code"),
                       frozenset({0, 2, 3}), True),
    "movies.dat": _Spec("movies.dat", b"::", ("MovieID", "Title", "Genres"), frozenset({0}),
                        False),
}


def _u_item_spec(genre_names):
    fields = ("movie id", "title", "release date", "video release date", "IMDb URL",
              *(f"{g} flag" for g in genre_names))
    return _Spec("u.item", b"|", fields, frozenset({0, *range(5, len(fields))}), False)


# ---------------------------------------------------------------------------------------------
# Reading one file


@dataclass
class _Table:
    """One parsed file: ``frame`` has integer column labels 0..num_fields-1, row i = line i+1."""

    path: Path
    raw: bytes  # the file's bytes, CRLF -> LF, trailing newlines removed
    encoding: str
    frame: pd.DataFrame

    def fail(self, row, expected, found):
        """A DatasetError for 0-based ``row`` (file line ``row + 1``)."""
        return _error(self.path, self.raw, int(row) + 1, expected, found, self.encoding)


def _line(raw, lineno):
    return raw.split(b"\n", lineno)[lineno - 1]


def _error(path, raw, lineno, expected, found, encoding="latin-1"):
    text = _line(raw, lineno).decode(encoding, errors="backslashreplace")
    if len(text) > 200:
        text = text[:200] + "..."
    return DatasetError(f"{path}, line {lineno}: expected {expected}, found {found}. "
                        f"The line reads: {text!r}")


def _line_problem(spec, line, check_range=False):
    """(expected, found) for the first problem in one line (tabs already replace '::'), or None."""
    sep = spec.parse_sep
    for k, byte in enumerate(line):
        if byte < 32 and bytes([byte]) != sep:
            return ("text without control characters",
                    f"byte 0x{byte:02X} at character {k + 1}")
        if byte >= 128 and spec.ascii:
            return ("ASCII text", f"byte 0x{byte:02X} at character {k + 1}")
    fields = line.split(sep)
    if len(fields) != len(spec.fields):
        found = "an empty line" if not line else f"{len(fields)} field(s)"
        others = [name for d, name in _DELIMITERS.items() if d != spec.sep and d in line]
        if len(fields) == 1 and others:
            found += f" (is the delimiter {' or '.join(others)}?)"
        return spec.layout(), found
    for k in sorted(spec.ints):
        field = fields[k]
        if not field.isdigit():
            found = repr(field.decode("latin-1")) if field else "an empty field"
            return f"a non-negative integer {spec.fields[k]} in field {k + 1}", found
        if check_range and int(field) > _INT64_MAX:
            return f"{spec.fields[k]} in field {k + 1} to fit in int64", repr(field.decode())
    return None


def _first_bad_line(spec, data):
    """1-based number of the first line that breaks the spec's byte-level rules, or None.

    Vectorized over the whole file: control/non-ASCII bytes, field counts per line, and
    non-digit or empty integer fields.
    """
    arr = np.frombuffer(data, np.uint8)
    newline = arr == _NEWLINE
    ends = np.flatnonzero(newline)  # data ends with b"\n", so line i ends at ends[i]
    is_sep = arr == spec.parse_sep[0]
    candidates = []

    bad = (arr < 32) & ~newline & ~is_sep
    if spec.ascii:
        bad |= arr >= 128
    candidates.append(np.argmax(bad) if bad.any() else None)

    starts = np.concatenate(([0], ends[:-1] + 1))
    seps_per_line = np.add.reduceat(is_sep, starts, dtype=np.int64)
    wrong = seps_per_line != len(spec.fields) - 1
    candidates.append(ends[np.argmax(wrong)] if wrong.any() else None)

    delim = is_sep | newline
    empty = delim.copy()  # a delimiter right after a delimiter (or file start): empty field
    empty[1:] &= delim[:-1]
    not_digit = ~delim & ((arr < 48) | (arr > 57))
    if len(spec.ints) < len(spec.fields):  # only some fields are integers: find each byte's field
        before = np.cumsum(is_sep, dtype=np.int32) - is_sep
        field = before - np.repeat(before[starts], ends - starts + 1)
        in_int = np.isin(field, np.fromiter(spec.ints, np.int32))
        not_digit &= in_int
        empty &= in_int
    bad = not_digit | empty
    candidates.append(np.argmax(bad) if bad.any() else None)

    positions = [p for p in candidates if p is not None]
    return int(np.searchsorted(ends, min(positions))) + 1 if positions else None


def _read_table(path, spec):
    """Parse one file after checking its bytes; a ``_Table`` whose row i is line i+1."""
    raw = path.read_bytes()
    if b"\r\n" in raw:
        raw = raw.replace(b"\r\n", b"\n")
    raw = raw.rstrip(b"\n")  # trailing empty lines carry nothing (u.genre ends with one)
    if not raw:
        raise DatasetError(f"{path}: the file is empty; expected lines of {spec.layout()}")
    data = raw + b"\n"
    if spec.sep == b"::":
        # A tab would become a separator; MovieLens titles have none (checked on ml-1m).
        tab = data.find(b"\t")
        if tab >= 0:
            lineno = data.count(b"\n", 0, tab) + 1
            raise _error(path, raw, lineno, spec.layout(), "a tab")
        data = data.replace(b"::", b"\t")

    lineno = _first_bad_line(spec, data)
    if lineno is not None:
        problem = _line_problem(spec, _line(data, lineno))
        raise _error(path, raw, lineno, *(problem or (spec.layout(), "something else")))

    encoding = "ascii"
    if not spec.ascii and not data.isascii():
        # Published as latin-1; a copy re-saved as UTF-8 decodes as UTF-8 without error,
        # which latin-1 text with accents practically never does.
        try:
            data.decode("utf-8")
            encoding = "utf-8"
        except UnicodeDecodeError:
            encoding = "latin-1"
    dtype = {k: (np.int64 if k in spec.ints else str) for k in range(len(spec.fields))}
    try:
        frame = pd.read_csv(io.BytesIO(data), sep=spec.parse_sep.decode(), header=None,
                            names=list(range(len(spec.fields))), dtype=dtype, engine="c",
                            quoting=csv.QUOTE_NONE, na_filter=False, lineterminator="\n",
                            skip_blank_lines=False, encoding=encoding)
    except (ValueError, OverflowError, pd.errors.ParserError) as exc:
        for lineno, line in enumerate(data.split(b"\n")[:-1], start=1):
            problem = _line_problem(spec, line, check_range=True)
            if problem:
                raise _error(path, raw, lineno, *problem, encoding=encoding) from exc
        raise DatasetError(f"{path}: could not be parsed as {spec.layout()}: {exc}") from exc
    num_lines = data.count(b"\n")
    if len(frame) != num_lines:
        raise DatasetError(f"{path}: {num_lines} lines but pandas read {len(frame)} rows")
    return _Table(path, raw, encoding, frame)


# ---------------------------------------------------------------------------------------------
# Checks and id maps shared by both datasets


def _first(mask):
    return int(np.argmax(mask))


def _sorted_ids(table, what):
    """Row order that sorts field 0 (ids), after checking each id appears once."""
    ids = table.frame[0]
    again = ids.duplicated().to_numpy()
    if again.any():
        row = _first(again)
        first = _first(ids.to_numpy() == ids.iloc[row])
        raise table.fail(row, f"each {what} once",
                         f"{what} {ids.iloc[row]} again (first on line {first + 1})")
    return np.argsort(ids.to_numpy(), kind="stable")


def _check_values(table, column, allowed, expected):
    values = table.frame[column]
    bad = ~values.isin(allowed).to_numpy()
    if bad.any():
        row = _first(bad)
        value = values.iloc[row]
        raise table.fail(row, expected, repr(value) if isinstance(value, str) else str(value))


def _by_id(table, order, index_name, columns):
    """DataFrame indexed 0..n-1 in sorted-id order: orig id column first, then ``columns``."""
    frame = pd.DataFrame({f"orig_{index_name}": table.frame[0].to_numpy()[order]})
    for col, values in columns.items():
        values = np.asarray(values)[order]
        frame[col] = values.astype(np.int64) if values.dtype.kind in "iu" else values
    frame.index.name = index_name
    return frame


def _genre_lists(flags, genre_names):
    """One list of genre names per row of a 0/1 matrix (num_items, num_genres)."""
    rows, cols = np.nonzero(flags)  # row-major: each row's genres together, in column order
    names = np.asarray(genre_names, dtype=object)[cols].tolist()
    ends = np.cumsum(np.bincount(rows, minlength=len(flags))).tolist()
    # A list column needs one Python list per item; slicing one flat list is the cheap way.
    return pd.Series([names[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)],
                     dtype=object)


def _row_of(known, ids):
    """Position of each id in the sorted array ``known``, -1 where absent. ids are >= 0."""
    top = int(max(known[-1], ids.max()))
    if top < 8 * (len(known) + len(ids)):  # small ids: one table lookup beats a binary search
        table = np.full(top + 1, -1, dtype=np.int64)
        table[known] = np.arange(len(known))
        return table[ids]
    pos = np.searchsorted(known, ids)
    found = known[np.minimum(pos, len(known) - 1)] == ids
    return np.where(found, pos, -1)


def _read_ratings(path, spec, users, items, users_file, items_file):
    """ratings DataFrame in file order; ids mapped onto users' and items' rows."""
    table = _read_table(path, spec)
    frame = table.frame
    rating = frame[2].to_numpy()
    bad = (rating < 1) | (rating > 5)
    if bad.any():
        raise table.fail(_first(bad), "a rating from 1 to 5", str(rating[_first(bad)]))
    ids = {}
    for col, known, what, where in ((0, users["orig_user_id"], "user id", users_file),
                                    (1, items["orig_item_id"], "movie id", items_file)):
        orig = frame[col].to_numpy()
        pos = _row_of(known.to_numpy(), orig)
        bad = pos < 0
        if bad.any():
            row = _first(bad)
            raise table.fail(row, f"a {what} listed in {where}", f"{what} {orig[row]}")
        ids[col] = pos
    again = pd.Series(ids[0] * len(items) + ids[1]).duplicated().to_numpy()
    if again.any():
        row = _first(again)
        raise table.fail(row, "one rating per (user, movie)",
                         f"user {frame[0].iloc[row]} rating movie {frame[1].iloc[row]} again")
    return pd.DataFrame({
        "user_id": ids[0].astype(np.int64),
        "item_id": ids[1].astype(np.int64),
        "rating": rating,
        "timestamp": frame[3].to_numpy(),
        "orig_user_id": frame[0].to_numpy(),
        "orig_item_id": frame[1].to_numpy(),
    })


# ---------------------------------------------------------------------------------------------
# The two datasets


def _ml100k_side(folder):
    """(users, items, genre_names) from u.user, u.item and u.genre."""
    genre = _read_table(folder / "u.genre", _SPECS["u.genre"])
    index = genre.frame[1].to_numpy()
    wrong = index != np.arange(len(index))
    if wrong.any():
        row = _first(wrong)
        raise genre.fail(row, f"genre index {row} (indexes count 0, 1, 2, ... in order)",
                         str(index[row]))
    again = genre.frame[0].duplicated().to_numpy()
    if again.any():
        raise genre.fail(_first(again), "each genre name once", "a repeated name")
    genre_names = genre.frame[0].astype(str).tolist()

    users_t = _read_table(folder / "u.user", _SPECS["u.user"])
    _check_values(users_t, 2, ["M", "F"], "gender 'M' or 'F' in field 3")
    f = users_t.frame
    users = _by_id(users_t, _sorted_ids(users_t, "user id"), "user_id",
                   {"gender": f[2], "age": f[1], "occupation": f[3], "zip": f[4]})

    try:
        items_t = _read_table(folder / "u.item", _u_item_spec(genre_names))
    except DatasetError as e:  # the field count comes from u.genre: name it too
        raise DatasetError(f"{e} (u.item has 5 fields and one flag per genre of "
                           f"{folder / 'u.genre'}, which lists {len(genre_names)})") from None
    flags = items_t.frame.iloc[:, 5:].to_numpy()
    bad = (flags > 1).any(axis=1)
    if bad.any():
        row = _first(bad)
        k = _first(flags[row] > 1)
        raise items_t.fail(row, f"genre flag 0 or 1 in field {k + 6} ({genre_names[k]})",
                           str(flags[row, k]))
    items = _by_id(items_t, _sorted_ids(items_t, "movie id"), "item_id",
                   {"title": items_t.frame[1], "genres": _genre_lists(flags, genre_names)})
    return users, items, genre_names


def _ml1m_side(folder):
    """(users, items, genre_names) from users.dat and movies.dat."""
    users_t = _read_table(folder / "users.dat", _SPECS["users.dat"])
    f = users_t.frame
    _check_values(users_t, 1, ["M", "F"], "Gender 'M' or 'F' in field 2")
    _check_values(users_t, 2, list(ML1M_AGES),
                  f"Age code in field 3, one of {', '.join(map(str, ML1M_AGES))}")
    _check_values(users_t, 3, range(len(ML1M_OCCUPATIONS)),
                  f"Occupation code in field 4, 0 to {len(ML1M_OCCUPATIONS) - 1}")
    occupation = np.asarray(ML1M_OCCUPATIONS, dtype=object)[f[3].to_numpy()]
    users = _by_id(users_t, _sorted_ids(users_t, "user id"), "user_id",
                   {"gender": f[1], "age": f[2], "occupation": occupation, "zip": f[4]})

    items_t = _read_table(folder / "movies.dat", _SPECS["movies.dat"])
    genres = items_t.frame[2].astype(str).str.split("|")
    each = genres.explode()
    bad = ~each.isin(ML1M_GENRES).to_numpy()
    if bad.any():
        at = _first(bad)
        raise items_t.fail(each.index[at],
                           f"genres separated by '|' from: {', '.join(ML1M_GENRES)}",
                           repr(each.iloc[at]))
    items = _by_id(items_t, _sorted_ids(items_t, "movie id"), "item_id",
                   {"title": items_t.frame[1], "genres": genres})
    return users, items, list(ML1M_GENRES)


# ---------------------------------------------------------------------------------------------
# Counts the dataset states about itself

_U_INFO_LINE = re.compile(rb"^\s*(\d+)\s+(users|items|ratings)\s*$")
# ml-1m/README: "These files contain 1,000,209 anonymous ratings of approximately 3,900 movies
# made by 6,040 MovieLens users who joined MovieLens in 2000."
_README_COUNTS = {
    "ratings": re.compile(r"contain\s+([\d,]+)\s+anonymous\s+ratings"),
    "users": re.compile(r"made\s+by\s+([\d,]+)\s+MovieLens\s+users"),
}
_COUNTED = {"ml-100k": {"users": "u.user", "items": "u.item", "ratings": "u.data"},
            "ml-1m": {"users": "users.dat", "ratings": "ratings.dat"}}


def _stated_counts(name, folder):
    """({field: count}, the file that states them, notes) from u.info or ml-1m's README.

    A missing metadata file is a note, not an error: copies passed around (and the course's
    own tiny test copies) often carry only the data files. A metadata file that is present
    but unreadable is a DatasetError naming it and the line.
    """
    if name == "ml-100k":
        path = folder / "u.info"
        if not path.is_file():
            return {}, path, [f"{name}: no u.info in {folder}, so the numbers of users, items "
                              f"and ratings were not checked against it"]
        raw = path.read_bytes().replace(b"\r\n", b"\n").rstrip(b"\n")
        stated = {}
        for lineno, line in enumerate(raw.split(b"\n"), start=1):
            match = _U_INFO_LINE.match(line)
            if match is None or match.group(2).decode() in stated:
                what = "a repeated field" if match else "something else"
                raise _error(path, raw, lineno, "'<count> users', '<count> items' or "
                                                "'<count> ratings', each once", what)
            stated[match.group(2).decode()] = int(match.group(1))
        absent = [f for f in _COUNTED[name] if f not in stated]
        if absent:
            raise DatasetError(f"{path}: no '<count> {absent[0]}' line; expected one line "
                               f"each for users, items and ratings")
        return stated, path, []
    path = folder / "README"
    if not path.is_file():
        return {}, path, [f"{name}: no README in {folder}, so the numbers of users and "
                          f"ratings were not checked against it"]
    text = " ".join(path.read_text(encoding="latin-1").split())
    stated = {}
    for what, pattern in _README_COUNTS.items():
        match = pattern.search(text)
        if match is None:
            return {}, path, [f"{name}: {path} does not state the number of {what} in the "
                              f"published words ({pattern.pattern!r}), so the counts were "
                              f"not checked against it"]
        stated[what] = int(match.group(1).replace(",", ""))
    return stated, path, []


def _check_counts(name, folder, found):
    """Compare ``found`` ({field: count}) with what the dataset states; the notes left over."""
    stated, source, notes = _stated_counts(name, folder)
    for what, count in found.items():
        if what in stated and stated[what] != count:
            file = folder / _COUNTED[name][what]
            raise DatasetError(f"{file}: {count:,} {what}, but {source} says {stated[what]:,} "
                               f"{what}; the file is truncated, edited or from another copy "
                               f"(get a fresh one with `{DOWNLOAD_HINT.format(name=name)}`)")
    return notes


_SIDE = {"ml-100k": _ml100k_side, "ml-1m": _ml1m_side}
_RATINGS = {"ml-100k": ("u.data", "u.user", "u.item"),
            "ml-1m": ("ratings.dat", "users.dat", "movies.dat")}


def _check_name(name):
    if name not in FILES:
        raise DatasetError(f"unknown MovieLens dataset {name!r}; expected one of "
                           f"{', '.join(map(repr, FILES))}")


def _load_side(name, root=None):
    """(users, items, genre_names) of real data without its ratings file (ml-1m lacks one here).

    users and items as in ``MovieLens``; root resolved as in ``load_movielens``.
    """
    _check_name(name)
    root = data_root(root)
    if root == SYNTHETIC:
        raise DatasetError("_load_side reads real files only; use load_movielens for synthetic")
    folder = dataset_dir(root, name, FILES[name][1:])
    users, items, genre_names = _SIDE[name](folder)
    counted = {"users": len(users), "items": len(items)}
    _check_counts(name, folder, {k: v for k, v in counted.items() if k in _COUNTED[name]})
    return users, items, genre_names


def load_movielens(name="ml-100k", root=None):
    """MovieLens 100K ("ml-100k") or 1M ("ml-1m") as a ``MovieLens``; ids contiguous from 0.

    ratings: one row per line of u.data / ratings.dat, in file order; columns
        user_id, item_id (int64, row of .users / .items), rating (int64, 1..5),
        timestamp (int64, seconds since 1970), orig_user_id, orig_item_id (int64, as in file).
    users: indexed by user_id 0..num_users-1 = users file ids sorted; columns orig_user_id,
        gender ('M'/'F'), age (int64; years in ml-100k, the ``ML1M_AGES`` code 1/18/25/35/45/
        50/56 in ml-1m), occupation (name; ml-1m codes mapped by ``ML1M_OCCUPATIONS``), zip (str).
    items: indexed by item_id 0..num_items-1 = movie ids sorted; columns orig_item_id,
        title (str; latin-1 as published), genres (list of str).
    genre_names: u.genre's order (19, first 'unknown') or ``ML1M_GENRES`` (18).
    Every movie of the items file is an item, rated or not (ml-1m: 3,883 movies, 3,706 rated).
    Release dates and IMDb URLs of u.item are not kept.

    root: folder holding ``name/``; default ``$MINIGRAD_DATA``, else ``<repo>/data``.
    "synthetic" returns ``synthetic.synthetic_movielens(name=name)`` and prints a banner.
    notes: what could not be checked, e.g. counts when u.info (ml-100k) or README (ml-1m)
        is absent. Counts that disagree with those files are a DatasetError naming both.
    Raises DatasetError (a ValueError) for a missing file, or naming file and line for bad input.
    """
    _check_name(name)
    root = data_root(root)
    if root == SYNTHETIC:
        from .synthetic import synthetic_movielens

        print(synthetic_banner(f"MovieLens {name}"))
        return synthetic_movielens(name=name)
    folder = dataset_dir(root, name, FILES[name])
    users, items, genre_names = _SIDE[name](folder)
    ratings_file, users_file, items_file = _RATINGS[name]
    ratings = _read_ratings(folder / ratings_file, _SPECS[ratings_file], users, items,
                            users_file, items_file)
    counted = {"users": len(users), "items": len(items), "ratings": len(ratings)}
    notes = _check_counts(name, folder, {k: v for k, v in counted.items()
                                         if k in _COUNTED[name]})
    return MovieLens(name=name, ratings=ratings, users=users, items=items,
                     genre_names=genre_names, notes=notes)
