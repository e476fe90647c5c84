"""MovieLens loader: real-data counts, tiny hand-made files, and errors naming file and line."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from realdata import missing, real_data_root

from minigrad.datasets import movielens
from minigrad.datasets.movielens import (
    ML1M_AGES,
    ML1M_GENRES,
    ML1M_OCCUPATIONS,
    _load_side,
    load_movielens,
)
from minigrad.datasets.paths import DatasetError
from minigrad.datasets.types import MovieLens

ROOT = Path(__file__).resolve().parents[1]

ML100K_GENRES = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
                 "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
                 "Romance", "Sci-Fi", "Thriller", "War", "Western"]
RATING_COLUMNS = ["user_id", "item_id", "rating", "timestamp", "orig_user_id", "orig_item_id"]


DATA = real_data_root("ml-100k") or real_data_root("ml-1m")
needs_data = pytest.mark.skipif(
    DATA is None, reason=missing("MovieLens (ml-100k or ml-1m)", "ml-100k"))


def need(*files):
    missing = [f for f in files if DATA is None or not (DATA / f).is_file()]
    if missing:
        pytest.skip(f"real data file(s) not present: {', '.join(missing)}")


# ---------------------------------------------------------------------------------------------
# Real data


@pytest.fixture(scope="module")
def ml100k():
    need("ml-100k/u.data")
    return load_movielens("ml-100k", DATA)


@needs_data
def test_ml100k_counts_and_mean(ml100k):
    r = ml100k.ratings
    assert isinstance(ml100k, MovieLens) and not ml100k.synthetic
    assert (len(r), ml100k.num_users, ml100k.num_items) == (100_000, 943, 1_682)
    assert f"{r['rating'].mean():.4f}" == "3.5299"
    assert set(r["rating"].unique()) == {1, 2, 3, 4, 5}
    assert list(r.columns) == RATING_COLUMNS
    assert all(r[c].dtype == np.int64 for c in RATING_COLUMNS)


@needs_data
def test_ml100k_ids_are_contiguous_and_index_users_and_items(ml100k):
    r, users, items = ml100k.ratings, ml100k.users, ml100k.items
    assert np.array_equal(np.unique(r["user_id"]), np.arange(943))
    assert np.array_equal(np.unique(r["item_id"]), np.arange(1682))
    assert list(users.index) == list(range(943)) and list(items.index) == list(range(1682))
    assert np.array_equal(users["orig_user_id"].to_numpy()[r["user_id"]], r["orig_user_id"])
    assert np.array_equal(items["orig_item_id"].to_numpy()[r["item_id"]], r["orig_item_id"])
    # ml-100k numbers users 1..943 and movies 1..1682, so user_id = orig - 1 here.
    assert np.array_equal(r["user_id"], r["orig_user_id"] - 1)


@needs_data
def test_ml100k_ratings_keep_file_order(ml100k):
    lines = (DATA / "ml-100k" / "u.data").read_bytes().split(b"\n")
    r = ml100k.ratings[["orig_user_id", "orig_item_id", "rating", "timestamp"]]
    for row, line in [(0, lines[0]), (1, lines[1]), (99_999, lines[99_999])]:
        assert r.iloc[row].tolist() == [int(x) for x in line.split(b"\t")]


@needs_data
def test_ml100k_titles_decoded_from_latin1(ml100k):
    titles = ml100k.items["title"]
    accented = titles[~titles.map(str.isascii)]
    assert len(accented) == 9
    assert "Misérables, Les (1995)" in set(accented)
    assert "Á köldum klaka (Cold Fever) (1994)" in set(accented)
    assert titles.iloc[0] == "Toy Story (1995)"


@needs_data
def test_ml100k_genres_in_u_genre_order(ml100k):
    assert ml100k.genre_names == ML100K_GENRES
    assert ml100k.items["genres"].iloc[0] == ["Animation", "Children's", "Comedy"]
    G = ml100k.genre_matrix()
    assert G.shape == (1682, 19)
    flags = np.loadtxt(DATA / "ml-100k" / "u.item", delimiter="|", encoding="latin-1",
                       usecols=range(5, 24), dtype=np.int64, comments=None)
    assert np.array_equal(G, flags)


@needs_data
def test_ml100k_users(ml100k):
    users = ml100k.users
    assert list(users.columns) == ["orig_user_id", "gender", "age", "occupation", "zip"]
    assert set(users["gender"]) == {"M", "F"}
    assert users["age"].dtype == np.int64
    assert users.loc[0, "occupation"] == "technician"
    zips = users["zip"]
    assert zips.str.fullmatch(r"0\d{4}").any()  # zip codes stay strings: leading 0s survive
    assert (~zips.str.fullmatch(r"\d{5}")).sum() == 18  # Canadian postcodes are in there too


@needs_data
def test_ml1m_side_files_alone():
    need("ml-1m/users.dat", "ml-1m/movies.dat")
    users, items, genre_names = _load_side("ml-1m", DATA)
    assert (len(users), len(items)) == (6_040, 3_883)
    assert genre_names == list(ML1M_GENRES)
    assert users.loc[0, ["orig_user_id", "age", "occupation"]].tolist() == [1, 1, "K-12 student"]
    assert set(users["age"]) == set(ML1M_AGES)
    assert set(users["occupation"]) == set(ML1M_OCCUPATIONS)
    assert users["zip"].str.fullmatch(r"\d{5}-\d{4}").any()  # ZIP+4 kept as written
    assert items["orig_item_id"].is_monotonic_increasing and items["orig_item_id"].iloc[-1] == 3952
    assert items.loc[0, "genres"] == ["Animation", "Children's", "Comedy"]
    assert (~items["title"].map(str.isascii)).sum() == 50
    assert "Misérables, Les (1995)" in set(items["title"])


@needs_data
def test_ml1m_movie_titles_have_no_tabs():
    # the '::' -> tab rewrite relies on it (the loader also checks, and would say where)
    need("ml-1m/movies.dat")
    assert b"\t" not in (DATA / "ml-1m" / "movies.dat").read_bytes()


@needs_data
def test_ml1m_without_ratings_says_ratings_dat_is_missing():
    need("ml-1m/users.dat")
    if (DATA / "ml-1m" / "ratings.dat").exists():
        pytest.skip("ratings.dat is present in this copy")
    with pytest.raises(DatasetError, match=r"missing ratings\.dat"):
        load_movielens("ml-1m", DATA)


@needs_data
def test_ml1m_complete():
    need("ml-1m/ratings.dat", "ml-1m/users.dat", "ml-1m/movies.dat")
    ml = load_movielens("ml-1m", DATA)
    r = ml.ratings
    assert (len(r), ml.num_users, ml.num_items) == (1_000_209, 6_040, 3_883)
    assert r["item_id"].nunique() == 3_706
    assert f"{r['rating'].mean():.4f}" == "3.5816"
    assert np.array_equal(np.unique(r["user_id"]), np.arange(6_040))


@needs_data
def test_ml1m_lists_match_its_readme():
    need("ml-1m/README")
    text = (DATA / "ml-1m" / "README").read_text(encoding="latin-1")
    ages = dict(re.findall(r'\*\s+(\d+):\s+"([^"]+)"', text.split("Occupation is")[0]))
    assert {int(k): v for k, v in ages.items()} == ML1M_AGES
    occupations = re.findall(r'\*\s+(\d+):\s+"([^"]+)"', text.split("Occupation is")[1])
    assert [int(k) for k, _ in occupations] == list(range(21))
    assert [v for _, v in occupations] == list(ML1M_OCCUPATIONS)
    genres = re.findall(r"^\t\* (\S.*)$", text.split("Genres are")[1], re.M)
    assert genres == list(ML1M_GENRES)


# ---------------------------------------------------------------------------------------------
# Tiny hand-made copies

TINY_100K = {
    "u.genre": b"unknown|0\nAction|1\nComedy|2\n\n",
    "u.item": (b"1|Toy Story (1995)|01-Jan-1995||http://a|0|0|1\n"
               b"2|Mis\xe9rables, Les (1995)|01-Jan-1995||http://b|0|1|1\n"
               b"3|unknown||||1|0|0\n"),
    # users out of order, with a gap: user_id follows the sorted original id
    "u.user": b"7|24|M|technician|11111\n2|53|F|other|01234\n",
    "u.data": b"7\t1\t5\t900000001\n2\t3\t1\t900000002\n7\t2\t3\t900000003\n",
}
TINY_1M = {
    "users.dat": b"1::F::1::10::12345\n2::M::56::16::54321-1234\n",
    "movies.dat": b"1::Film One (1995)::Animation|Children's|Comedy\n5::Caf\xe9 (1993)::Comedy\n"
                  b"9::Unrated (2000)::Drama\n",
    "ratings.dat": b"1::1::5::970000001\n2::5::3::970000002\n1::5::4::970000003\n",
}
TINY = {"ml-100k": TINY_100K, "ml-1m": TINY_1M}


def write(tmp_path, name, **replace):
    """Write the tiny dataset ``name`` under tmp_path, with files replaced by keyword (u_data=)."""
    folder = tmp_path / name
    folder.mkdir(parents=True)
    files = dict(TINY[name])
    files.update({k.replace("_", "."): v for k, v in replace.items()})
    for file, content in files.items():
        (folder / file).write_bytes(content)
    return tmp_path


def test_tiny_ml100k_loads(tmp_path):
    ml = load_movielens("ml-100k", write(tmp_path, "ml-100k"))
    assert list(ml.users["orig_user_id"]) == [2, 7]
    assert list(ml.ratings.columns) == RATING_COLUMNS
    assert ml.ratings[["user_id", "item_id", "rating"]].to_numpy().tolist() == [
        [1, 0, 5], [0, 2, 1], [1, 1, 3]]
    assert ml.items["title"].tolist() == ["Toy Story (1995)", "Misérables, Les (1995)", "unknown"]
    assert ml.items["genres"].tolist() == [["Comedy"], ["Action", "Comedy"], ["unknown"]]
    assert ml.genre_names == ["unknown", "Action", "Comedy"]
    assert ml.genre_matrix().tolist() == [[0, 0, 1], [0, 1, 1], [1, 0, 0]]
    assert ml.users.loc[0].tolist() == [2, "F", 53, "other", "01234"]


def test_tiny_ml100k_with_crlf_and_trailing_blank_lines_loads_the_same(tmp_path):
    plain = load_movielens("ml-100k", write(tmp_path / "a", "ml-100k"))
    crlf = {k.replace(".", "_"): v.replace(b"\n", b"\r\n") + b"\r\n\r\n"
            for k, v in TINY_100K.items()}
    other = load_movielens("ml-100k", write(tmp_path / "b", "ml-100k", **crlf))
    pd.testing.assert_frame_equal(plain.ratings, other.ratings)
    pd.testing.assert_frame_equal(plain.users, other.users)
    pd.testing.assert_frame_equal(plain.items, other.items)


def test_u_item_resaved_as_utf8_still_decodes(tmp_path):
    utf8 = TINY_100K["u.item"].decode("latin-1").encode("utf-8")
    ml = load_movielens("ml-100k", write(tmp_path, "ml-100k", u_item=utf8))
    assert ml.items.loc[1, "title"] == "Misérables, Les (1995)"


def test_tiny_ml1m_loads(tmp_path):
    ml = load_movielens("ml-1m", write(tmp_path, "ml-1m"))
    assert (len(ml.ratings), ml.num_users, ml.num_items) == (3, 2, 3)
    assert ml.users["occupation"].tolist() == ["K-12 student", "self-employed"]
    assert ml.users["age"].tolist() == [1, 56]
    assert ml.users["zip"].tolist() == ["12345", "54321-1234"]
    assert ml.items["title"].tolist() == ["Film One (1995)", "Café (1993)", "Unrated (2000)"]
    assert ml.items.loc[2, "genres"] == ["Drama"]  # kept although nobody rated it
    assert ml.ratings["item_id"].tolist() == [0, 1, 1]
    assert ml.genre_matrix().shape == (3, 18)


def test_ml1m_side_files_load_without_ratings(tmp_path):
    root = write(tmp_path, "ml-1m")
    (root / "ml-1m" / "ratings.dat").unlink()
    users, items, _ = _load_side("ml-1m", root)
    assert (len(users), len(items)) == (2, 3)
    with pytest.raises(DatasetError, match=r"missing ratings\.dat"):
        load_movielens("ml-1m", root)


def test_unknown_name_and_missing_folder(tmp_path):
    with pytest.raises(DatasetError, match="unknown MovieLens dataset 'ml-10m'"):
        load_movielens("ml-10m", tmp_path)
    with pytest.raises(DatasetError, match="folder does not exist"):
        load_movielens("ml-100k", tmp_path)


U_INFO = b"2 users\n3 items\n3 ratings\n"
ML1M_README = (b"These files contain 3 anonymous ratings of approximately 3,900 movies \n"
               b"made by 2 MovieLens users who joined MovieLens in 2000.\n")


def test_ml100k_counts_match_u_info_or_name_both_files(tmp_path):
    root = write(tmp_path / "a", "ml-100k", u_info=U_INFO)
    assert load_movielens("ml-100k", root).notes == []
    # A truncated u.data: two of three ratings.
    root = write(tmp_path / "b", "ml-100k", u_info=U_INFO,
                 u_data=TINY_100K["u.data"].rsplit(b"\n", 2)[0] + b"\n")
    with pytest.raises(DatasetError, match=r"ml-100k/u\.data: 2 ratings, but \S*u\.info says "
                                           r"3 ratings"):
        load_movielens("ml-100k", root)
    root = write(tmp_path / "c", "ml-100k", u_info=b"3 users\n3 items\n3 ratings\n")
    with pytest.raises(DatasetError, match=r"u\.user: 2 users, but \S*u\.info says 3 users"):
        _load_side("ml-100k", root)
    root = write(tmp_path / "d", "ml-100k", u_info=b"2 users\n4 items\n3 ratings\n")
    with pytest.raises(DatasetError, match=r"u\.item: 3 items, but \S*u\.info says 4 items"):
        load_movielens("ml-100k", root)


@pytest.mark.parametrize("content, words", [
    (b"2 users\n3 items\n", r"u\.info: no '<count> ratings' line"),
    (b"2 users\n3 things\n3 ratings\n", r"u\.info, line 2: expected '<count> users'"),
    (b"2 users\n2 users\n3 items\n3 ratings\n", r"u\.info, line 2: .* found a repeated"),
])
def test_unreadable_u_info_names_file_and_line(tmp_path, content, words):
    with pytest.raises(DatasetError, match=words):
        load_movielens("ml-100k", write(tmp_path, "ml-100k", u_info=content))


def test_missing_metadata_is_a_note(tmp_path):
    ml = load_movielens("ml-100k", write(tmp_path / "a", "ml-100k"))
    assert ml.notes == [f"ml-100k: no u.info in {tmp_path / 'a' / 'ml-100k'}, so the numbers "
                        f"of users, items and ratings were not checked against it"]
    ml = load_movielens("ml-1m", write(tmp_path / "b", "ml-1m"))
    assert len(ml.notes) == 1 and "no README" in ml.notes[0]
    ml = load_movielens("ml-1m", write(tmp_path / "c", "ml-1m", README=b"MovieLens 1M\n"))
    assert len(ml.notes) == 1 and "does not state the number of ratings" in ml.notes[0]


def test_ml1m_counts_match_its_readme(tmp_path):
    assert load_movielens("ml-1m", write(tmp_path / "a", "ml-1m", README=ML1M_README)).notes == []
    root = write(tmp_path / "b", "ml-1m", README=ML1M_README.replace(b" 3 anon", b" 1,000 anon"))
    with pytest.raises(DatasetError, match=r"ratings\.dat: 3 ratings, but \S*README says 1,000"):
        load_movielens("ml-1m", root)
    root = write(tmp_path / "c", "ml-1m", README=ML1M_README.replace(b"by 2 ", b"by 6,040 "))
    with pytest.raises(DatasetError, match=r"users\.dat: 2 users, but \S*README says 6,040"):
        _load_side("ml-1m", root)


@needs_data
def test_real_metadata_agrees_with_the_files():
    need("ml-100k/u.info", "ml-1m/README", "ml-1m/users.dat", "ml-1m/movies.dat")
    assert load_movielens("ml-100k", DATA).notes == []
    assert len(_load_side("ml-1m", DATA)[0]) == 6_040  # README: "made by 6,040 MovieLens users"


@needs_data
def test_real_u_data_truncated_to_half_is_an_error(tmp_path):
    need("ml-100k/u.data", "ml-100k/u.info")
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    for name in ("u.info", "u.item", "u.user", "u.genre"):
        (folder / name).write_bytes((DATA / "ml-100k" / name).read_bytes())
    lines = (DATA / "ml-100k" / "u.data").read_bytes().splitlines(keepends=True)
    (folder / "u.data").write_bytes(b"".join(lines[:50_000]))
    with pytest.raises(DatasetError, match=r"u\.data: 50,000 ratings, but \S*u\.info says "
                                           r"100,000 ratings"):
        load_movielens("ml-100k", tmp_path)


def test_empty_file(tmp_path):
    with pytest.raises(DatasetError, match=r"u\.data: the file is empty"):
        load_movielens("ml-100k", write(tmp_path, "ml-100k", u_data=b"\n"))


# ---------------------------------------------------------------------------------------------
# Bad input: (dataset, file, content, line, words the message must hold)

BAD = [
    ("ml-100k", "u.data", b"7\t1\t5\t900000001\n2,3,1,900000002\n", 2,
     ["4 fields separated by tab", "found 1 field(s)", "is the delimiter ','?"]),
    ("ml-100k", "u.data", b"7 1 5 900000001\n", 1, ["found 1 field(s)", "delimiter space"]),
    ("ml-100k", "u.data", b"7\t1\t5\t1\n2\t3\t1\t2\n7\t2\t3\t3\t9\n", 3, ["found 5 field(s)"]),
    ("ml-100k", "u.data", b"7\t1\t5\t1\n2\t3\t6\t2\n", 2, ["a rating from 1 to 5", "found 6"]),
    ("ml-100k", "u.data", b"7\t1\t0\t1\n", 1, ["a rating from 1 to 5", "found 0"]),
    ("ml-100k", "u.data", b"7\t1\t5\t1\n2\t3\t4.5\t2\n", 2,
     ["a non-negative integer rating in field 3", "found '4.5'"]),
    ("ml-100k", "u.data", b"7\t1\t5\t1\nx2\t3\t4\t2\n", 2,
     ["a non-negative integer user id in field 1", "found 'x2'"]),
    ("ml-100k", "u.data", b"user\titem\trating\ttime\n7\t1\t5\t1\n", 1,
     ["a non-negative integer user id in field 1", "found 'user'"]),
    ("ml-100k", "u.data", b"7\t1\t5\t1\n7\t\t5\t1\n", 2,
     ["a non-negative integer item id in field 2", "found an empty field"]),
    ("ml-100k", "u.data", b"7\t1\t5\t1\n-2\t3\t4\t2\n", 2, ["non-negative integer user id"]),
    ("ml-100k", "u.data", b"7\t1\t5\t1\n\n2\t3\t4\t2\n", 2, ["found an empty line"]),
    ("ml-100k", "u.data", b"7\t1\t5\t1\n99\t3\t4\t2\n", 2,
     ["a user id listed in u.user", "found user id 99"]),
    ("ml-100k", "u.data", b"7\t1\t5\t1\n2\t3\t4\t2\n2\t4\t4\t2\n", 3,
     ["a movie id listed in u.item", "found movie id 4"]),
    ("ml-100k", "u.data", b"7\t1\t5\t1\n2\t3\t4\t2\n7\t1\t2\t3\n", 3,
     ["one rating per (user, movie)", "user 7 rating movie 1 again"]),
    ("ml-100k", "u.data", b"7\t1\t5\t1\n2\t3\t4\t99999999999999999999\n", 2,
     ["timestamp in field 4 to fit in int64"]),
    ("ml-100k", "u.data", b"7\t1\t5\t1\n2\t3\t4\t2\xe9\n", 2, ["ASCII text", "byte 0xE9"]),
    ("ml-100k", "u.data", b"7\t1\t5\t1\x00\n", 1, ["without control characters", "0x00"]),
    ("ml-100k", "u.user", b"7|24|M|technician|11111\n2|53|F|other|01234\n7|30|F|other|1\n", 3,
     ["each user id once", "user id 7 again (first on line 1)"]),
    ("ml-100k", "u.user", b"7|24|M|technician|11111\n2|53|X|other|01234\n", 2,
     ["gender 'M' or 'F' in field 3", "found 'X'"]),
    ("ml-100k", "u.user", b"7|24|M|technician\n", 1,
     ["5 fields separated by '|' (user id | age | gender | occupation | zip code)",
      "found 4 field(s)"]),
    ("ml-100k", "u.user", b"7|24|M|technician|11111\n2|old|F|other|01234\n", 2,
     ["a non-negative integer age in field 2", "found 'old'"]),
    ("ml-100k", "u.item", b"1|A|||u|0|0|1\n2|B|||u|0|1|1\n3|C|||u|1|0|0\n2|D|||u|1|0|0\n", 4,
     ["each movie id once", "movie id 2 again (first on line 2)"]),
    ("ml-100k", "u.item", b"1|A|||u|0|0|1\n2|B|||u|0|2|1\n3|C|||u|1|0|0\n", 2,
     ["genre flag 0 or 1 in field 7 (Action)", "found 2"]),
    ("ml-100k", "u.item", b"1|A|||u|0|0|1\n2|B|||u|0|1\n3|C|||u|1|0|0\n", 2,
     ["8 fields separated by '|'", "found 7 field(s)"]),
    ("ml-100k", "u.item", b"1|A|||u|0|0|1\nB|B|||u|0|1|1\n3|C|||u|1|0|0\n", 2,
     ["a non-negative integer movie id in field 1", "found 'B'"]),
    ("ml-100k", "u.item", b"1|A|||u|0|0|1\n2|B\rC|||u|0|1|1\n3|C|||u|1|0|0\n", 2,
     ["without control characters", "byte 0x0D"]),
    ("ml-100k", "u.genre", b"unknown|0\nAction|2\nComedy|1\n", 2,
     ["genre index 1", "found 2"]),
    ("ml-1m", "ratings.dat", b"1::1::5::970000001\n2\t5\t3\t970000002\n", 2,
     ["4 fields separated by '::'", "found a tab"]),
    ("ml-1m", "ratings.dat", b"1::1::5::970000001\n2:5::3::970000002\n", 2,
     ["4 fields separated by '::' (UserID | MovieID | Rating | Timestamp)", "found 3 field(s)"]),
    ("ml-1m", "ratings.dat", b"1::1::5::970000001\n2::5::7::970000002\n", 2,
     ["a rating from 1 to 5", "found 7"]),
    ("ml-1m", "ratings.dat", b"1::1::5::970000001\n2::4::3::970000002\n", 2,
     ["a movie id listed in movies.dat", "found movie id 4"]),
    ("ml-1m", "ratings.dat", b"1::1::5::970000001\n3::5::3::970000002\n", 2,
     ["a user id listed in users.dat", "found user id 3"]),
    ("ml-1m", "users.dat", b"1::F::1::10::12345\n2::M::20::16::54321\n", 2,
     ["Age code in field 3, one of 1, 18, 25, 35, 45, 50, 56", "found 20"]),
    ("ml-1m", "users.dat", b"1::F::1::21::12345\n", 1,
     ["Occupation code in field 4, 0 to 20", "found 21"]),
    ("ml-1m", "users.dat", b"1,F,1,10,12345\n", 1, ["5 fields separated by '::'",
                                                    "is the delimiter ','?"]),
    ("ml-1m", "users.dat", b"1::F::1::10::12345\n2::M::56::16::7007\xe9\n", 2,
     ["ASCII text", "byte 0xE9"]),
    ("ml-1m", "movies.dat", b"1::Toy Story (1995)::Comedy\n5::Alien (1979)::Horror|Sci-fi\n", 2,
     ["genres separated by '|' from: Action, Adventure", "found 'Sci-fi'"]),
    ("ml-1m", "movies.dat", b"1::Toy Story (1995)::\n5::Alien (1979)::Horror\n", 1,
     ["genres separated by '|'", "found ''"]),
    ("ml-1m", "movies.dat", b"1::Toy Story (1995)::Comedy\nA5::Alien (1979)::Horror\n", 2,
     ["a non-negative integer MovieID in field 1", "found 'A5'"]),
    ("ml-1m", "movies.dat", b"1::Toy Story (1995)::Comedy\n5::A::Horror\n1::B::Drama\n", 3,
     ["each movie id once", "movie id 1 again (first on line 1)"]),
]


@pytest.mark.parametrize("name, file, content, line, words", BAD,
                         ids=[f"{b[1]}-{i}" for i, b in enumerate(BAD)])
def test_bad_input_names_file_line_and_expectation(tmp_path, name, file, content, line, words):
    root = write(tmp_path, name, **{file.replace(".", "_"): content})
    with pytest.raises(DatasetError) as info:
        load_movielens(name, root)
    message = str(info.value)
    assert f"{root / name / file}, line {line}: expected " in message
    for word in words:
        assert word in message, message


def test_error_message_quotes_the_original_line(tmp_path):
    root = write(tmp_path, "ml-1m", ratings_dat=b"1::1::5::970000001\n2::5::9::970000002\n")
    with pytest.raises(DatasetError, match=re.escape("The line reads: '2::5::9::970000002'")):
        load_movielens("ml-1m", root)


def test_dataset_error_is_a_value_error():
    assert issubclass(DatasetError, ValueError)


# ---------------------------------------------------------------------------------------------
# Synthetic stand-in (written separately; skipped until it exists)


def test_synthetic_root_prints_banner_and_returns_stand_in(capsys):
    ml = load_movielens("ml-100k", root="synthetic")
    assert "SYNTHETIC DATA" in capsys.readouterr().out
    assert isinstance(ml, MovieLens) and ml.synthetic
    assert list(ml.ratings.columns)[:4] == RATING_COLUMNS[:4]


def test_synthetic_through_environment(monkeypatch, capsys):
    monkeypatch.setenv("MINIGRAD_DATA", "synthetic")
    ml = load_movielens("ml-100k")
    assert "SYNTHETIC DATA" in capsys.readouterr().out
    assert ml.synthetic and "ml-100k" in ml.name


@pytest.mark.parametrize("name", ["ml-100k", "ml-1m"])
def test_synthetic_has_the_real_loaders_schema(tmp_path, name):
    from minigrad.datasets import synthetic

    fake = synthetic.synthetic_movielens(name=name, num_users=30, num_items=40)
    real = load_movielens(name, write(tmp_path, name))
    for part in ("ratings", "users", "items"):
        assert getattr(fake, part).dtypes.to_dict() == getattr(real, part).dtypes.to_dict(), part
        assert getattr(fake, part).index.name == getattr(real, part).index.name, part
    assert fake.genre_names == (ML100K_GENRES if name == "ml-100k" else list(ML1M_GENRES))


def test_module_exports():
    assert set(movielens.__all__) >= {"load_movielens", "ML1M_OCCUPATIONS", "ML1M_GENRES"}
    assert len(ML1M_OCCUPATIONS) == 21 and len(ML1M_GENRES) == 18
