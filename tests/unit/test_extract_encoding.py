"""Encoding forensics on real files: BOMs, UTF-16, cp1252/latin-1 fallback, and the refusals."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from etl.errors import InputError
from etl.extract import read_sources
from etl.extract.encoding import detection_sample, first_utf8_error, sniff_encoding
from etl.extract.options import ReadOptions

ROWS = "Email,First Name,City\r\nada@example.com,Åsa,Zürich\r\nbruno@example.org,Bruno,Kraków\r\n"


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def values(path: Path) -> list[tuple[str | None, ...]]:
    res = read_sources([path])
    return res.frame.select("Email", "First Name", "City").rows()


EXPECTED = [("ada@example.com", "Åsa", "Zürich"), ("bruno@example.org", "Bruno", "Kraków")]


@pytest.mark.parametrize(
    ("name", "data", "encoding", "bom"),
    [
        ("plain.csv", ROWS.encode("utf-8"), "utf-8", False),
        ("bom.csv", codecs.BOM_UTF8 + ROWS.encode("utf-8"), "utf-8", True),
        ("le.csv", codecs.BOM_UTF16_LE + ROWS.encode("utf-16-le"), "utf-16-le", True),
        ("be.csv", codecs.BOM_UTF16_BE + ROWS.encode("utf-16-be"), "utf-16-be", True),
        ("nobom16.csv", ROWS.encode("utf-16-le"), "utf-16-le", False),
    ],
)
def test_unicode_encodings_read_identically(
    tmp_path: Path, name: str, data: bytes, encoding: str, bom: bool
) -> None:
    p = write(tmp_path, name, data)
    res = read_sources([p])
    assert values(p) == EXPECTED
    (info,) = res.files
    assert (info.encoding, info.bom, info.delimiter) == (encoding, bom, ",")
    assert info.header == ("Email", "First Name", "City")  # BOM stripped from the first name
    assert res.frame["source_line"].to_list() == [2, 3]


def test_cp1252_fallback_keeps_accents_and_smart_quotes(tmp_path: Path) -> None:
    text = "Email;Name\nada@example.com;Ren\u00e9e \u201cRay\u201d\n"  # “ ” only exist in cp1252, not latin-1
    p = write(tmp_path, "w.csv", text.encode("cp1252"))
    res = read_sources([p])
    assert res.files[0].encoding == "cp1252"
    assert res.frame["Name"].to_list() == ["Ren\u00e9e \u201cRay\u201d"]


def test_a_c1_control_byte_is_not_silently_latin1(tmp_path: Path) -> None:
    """0x81 is undefined in cp1252; latin-1 reads it as a control character, which no name holds: the
    detector is not sure, so the run stops and asks — and ``--encoding latin-1`` reads it as told."""
    data = b"Email,Name\nada@example.com,Andr" + b"\xe9\x81\n"
    p = write(tmp_path, "l1.csv", data)
    with pytest.raises(InputError, match="--encoding") as exc:
        read_sources([p])
    assert (exc.value.line, exc.value.column) == (2, len("ada@example.com,Andr") + 1)
    assert "e9 81 0a" in str(exc.value) and "\n" not in str(exc.value)
    res = read_sources([p], options=ReadOptions(encoding="latin-1"))
    assert res.files[0].encoding == "iso8859-1" and res.files[0].notes == ()  # Python's name for latin-1
    assert res.frame["Name"].to_list() == ["Andr\u00e9\x81"]


def test_invalid_utf8_after_bom_names_line_and_column(tmp_path: Path) -> None:
    data = codecs.BOM_UTF8 + b"Email,Name\nada@example.com,Ada\nbruno@example.org,Br\xfcno\n"
    p = write(tmp_path, "bad.csv", data)
    with pytest.raises(InputError) as exc:
        read_sources([p])
    assert exc.value.line == 3
    assert exc.value.column == len("bruno@example.org,Br") + 1
    assert "UTF-8 BOM" in str(exc.value) and str(p) in str(exc.value)


def test_invalid_utf16_names_line(tmp_path: Path) -> None:
    body = (
        "Email\tName\r\nada@example.com\tAda\r\n".encode("utf-16-le")
        + b"\x00\xd8"
        + "x\r\n".encode("utf-16-le")
    )
    p = write(tmp_path, "bad16.txt", codecs.BOM_UTF16_LE + body)
    with pytest.raises(InputError) as exc:
        read_sources([p])
    assert exc.value.line == 3
    assert "UTF-16-LE" in str(exc.value)


def test_utf8_decided_over_whole_file_not_a_sample(tmp_path: Path) -> None:
    """A cp1252 byte after the first 4 MiB still switches the whole file to cp1252."""
    big = b"Email,Name\n" + b"x@example.com,plain\n" * 250_000 + b"y@example.com,Jos\xe9\n"
    p = write(tmp_path, "late.csv", big)
    assert first_utf8_error(p) is not None
    assert sniff_encoding(p, str(p)) == ("cp1252", 0)
    assert len(detection_sample(p, len(big) - 3)[0]) < 100  # the detector judges the line, not the file
    res = read_sources([p])
    assert res.frame["Name"][-1] == "José"
    assert res.frame["source_line"][-1] == 250_002


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file (0 bytes)"),
        (b"Email,Name\n" + bytes(range(256)), "binary file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
        (b"Email,Name\rada@example.com,Ada\r", "CR only"),
    ],
)
def test_refusals_are_one_line_input_errors(tmp_path: Path, data: bytes, message: str) -> None:
    p = write(tmp_path, "x.csv", data)
    with pytest.raises(InputError) as exc:
        read_sources([p])
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)


def test_nul_deep_in_a_utf8_file_is_binary(tmp_path: Path) -> None:
    p = write(tmp_path, "nul.csv", b"Email,Name\n" + b"a@example.com,A\n" * 5000 + b"b@example.com,B\x00x\n")
    with pytest.raises(InputError, match="binary file") as exc:
        read_sources([p])
    assert exc.value.line == 5002


# --- legacy code pages, detected: realistic files (a header and names in the language) ------------------

JAPANESE = (
    "メールアドレス,氏名,都道府県,メモ",
    ["佐藤 健", "鈴木 一郎", "高橋 美咲", "田中 翔太", "渡辺 さくら", "伊藤 大輔", "山本 陽子", "中村 拓也",
     "小林 愛", "加藤 裕介", "吉田 真由美", "山田 太郎", "佐々木 恵", "山口 直樹", "松本 彩", "井上 翼"],
    ["東京都", "大阪府", "神奈川県", "愛知県", "北海道", "福岡県"],
    ["展示会", "ウェブ登録", "既存顧客", "メルマガ希望"],
)  # fmt: skip
CHINESE = (
    "电子邮件,姓名,城市,备注",
    ["王伟", "李娜", "张敏", "刘洋", "陈静", "杨磊", "黄丽", "赵强", "周杰", "吴芳", "徐明", "孙涛", "马超",
     "朱琳", "胡军", "郭靖", "何欣", "林峰", "高翔", "罗敏"],
    ["北京", "上海", "广州", "深圳", "成都", "杭州", "南京", "武汉"],
    ["老客户", "新订阅", "展会名单", "线上报名"],
)  # fmt: skip
RUSSIAN = (
    "Email,Имя,Город,Примечание",
    ["Иван Петров", "Мария Смирнова", "Алексей Кузнецов", "Ольга Попова", "Дмитрий Васильев",
     "Екатерина Соколова", "Сергей Михайлов", "Наталья Новикова", "Андрей Фёдоров", "Татьяна Морозова",
     "Павел Волков", "Юлия Алексеева", "Николай Лебедев", "Анна Семёнова", "Владимир Егоров"],
    ["Москва", "Санкт-Петербург", "Новосибирск", "Екатеринбург", "Казань"],
    ["постоянный клиент", "выставка", "подписка с сайта"],
)  # fmt: skip
CENTRAL = (
    "Email,Imię i nazwisko,Miasto,Uwagi",
    ["Łukasz Wiśniewski", "Agnieszka Wójcik", "Paweł Kowalczyk", "Małgorzata Kamińska", "Tomáš Dvořák",
     "Jiří Novák", "Zuzana Horáková", "Grzegorz Lewandowski", "Krzysztof Zieliński", "Dorota Szymańska",
     "Petr Černý", "Lucie Svobodová", "Michał Woźniak", "Štěpán Kučera", "Žaneta Procházková"],
    ["Kraków", "Łódź", "Wrocław", "Gdańsk", "Poznań", "Brno", "Praha", "Ostrava"],
    ["stały klient", "targi", "zapis ze strony", "zákazník"],
)  # fmt: skip
WESTERN = (
    "Email,Prénom et nom,Ville,Remarque",
    ["José García", "François Lefèvre", "Zoë Brontë", "Søren Kierkegård", "Renée “Ray” O’Brien",
     "Jürgen Müller", "Björn Ångström", "Ana Peña", "Hélène Côté", "Anaïs Dubois", "Mário Gonçalves",
     "Inès Martín", "Céline Dion", "Gaëlle Noël", "Œdipe Lemaître"],
    ["Paris", "Besançon", "Orléans", "Genève", "Zürich", "Málaga", "København", "Göteborg"],
    ["client fidèle", "salon", "inscrit – site", "déjà client"],
)  # fmt: skip
HUNGARIAN = (  # each word also reads as a word in cp1252 (ő → õ): only the language as a whole tells
    "Email,Név,Város,Megjegyzés",
    ["Nagy Gábor", "Kovács Éva", "Szabó Zoltán", "Tóth Erzsébet", "Horváth Ödön", "Varga Győző",
     "Kiss Ürsula", "Molnár Árpád", "Németh Réka", "Farkas Lőrinc", "Balogh Gyöngyi", "Papp Dezső",
     "Lakatos Előd", "Mészáros Bőske", "Oláh Szőke", "Simon Tünde", "Fekete Ernő", "Szilágyi Nándor",
     "Török Csilla", "Fehér Levente", "Balázs Zsófia", "Gál Ferenc"],
    ["Győr", "Pécs", "Szeged", "Debrecen", "Székesfehérvár", "Nyíregyháza"],
    ["törzsvásárló", "kiállítás", "webes feliratkozás", "hírlevél előfizető", "rendezvény résztvevő"],
)  # fmt: skip
LATIN1 = (  # ISO-8859-1 only: no “smart quotes”, Œ or – (those are cp1252's 0x80–0x9F)
    "Email,Nom,Ville,Remarque",
    ["José García", "François Lefèvre", "Zoë Brontë", "Søren Kierkegård", "Jürgen Müller", "Björn Ångström",
     "Ana Peña", "Hélène Côté", "Anaïs Dubois", "Mário Gonçalves", "Inès Martín", "Céline Dion",
     "Gaëlle Noël", "Þór Guðmundsson", "Ægir Ólafsson"],
    ["Paris", "Besançon", "Orléans", "Genève", "Zürich", "Málaga", "København", "Reykjavík"],
    ["client fidèle", "salon", "déjà client"],
)  # fmt: skip


def export_text(lang: tuple[str, list[str], list[str], list[str]]) -> str:
    header, names, cities, notes = lang
    rows = [
        f"user{i}@example.com,{n},{cities[i % len(cities)]},{notes[i % len(notes)]}"
        for i, n in enumerate(names)
    ]
    return header + "\r\n" + "\r\n".join(rows) + "\r\n"


@pytest.mark.parametrize(
    ("lang", "written", "read_as"),
    [
        (JAPANESE, "shift_jis", "cp932"),  # cp932 is Microsoft's Shift_JIS, what Japanese Excel writes
        (CENTRAL, "cp1250", "cp1250"),
        (HUNGARIAN, "cp1250", "cp1250"),
        (RUSSIAN, "cp1251", "cp1251"),
        (WESTERN, "cp1252", "cp1252"),
        (LATIN1, "latin-1", "cp1252"),  # identical text: cp1252 only adds characters in 0x80–0x9F
        (CHINESE, "gb18030", "gb18030"),
    ],
)
def test_legacy_code_pages_are_detected_and_read_exactly(
    tmp_path: Path, lang: tuple[str, list[str], list[str], list[str]], written: str, read_as: str
) -> None:
    text = export_text(lang)
    p = write(tmp_path, f"{written}.csv", text.encode(written))
    res = read_sources([p])
    (info,) = res.files
    assert info.encoding == read_as
    assert info.header == tuple(lang[0].split(","))
    names = res.frame.get_column(info.header[1]).to_list()
    assert names == lang[1]  # every name exactly: a wrong code page garbles them silently
    assert res.frame.get_column(info.header[2]).to_list()[:3] == lang[2][:3]
    (note,) = info.notes
    assert f"read as {read_as} (detected, " in note and "% sure" in note and str(p) in note


@pytest.mark.parametrize("lang", [JAPANESE, RUSSIAN, CHINESE])
@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_by_nul_pattern(
    tmp_path: Path, lang: tuple[str, list[str], list[str], list[str]], codec: str
) -> None:
    """Told apart by where the NULs of its ASCII sit; 一 (U+4E00) puts a NUL on the other side too."""
    p = write(tmp_path, "nobom.txt", export_text(lang).encode(codec))
    res = read_sources([p])
    (info,) = res.files
    assert (info.encoding, info.bom) == (codec, False)
    assert res.frame.get_column(info.header[1]).to_list() == lang[1]
    assert info.notes and "without a BOM" in info.notes[0]


def test_a_short_ambiguous_file_stops_and_encoding_reads_it(tmp_path: Path) -> None:
    """One Cyrillic name: its bytes read as Cyrillic (cp1251, KOI8-R) or Greek alike — no guess."""
    p = write(tmp_path, "short.csv", "Email,Name\r\nivan@example.com,Иван\r\n".encode("cp1251"))
    with pytest.raises(InputError) as exc:
        read_sources([p])
    message = str(exc.value)
    assert message.startswith(f"{p}:2:18: ") and "c8 e2 e0 ed" in message
    assert "--encoding NAME" in message and "sure" in message and "\n" not in message
    res = read_sources([p], options=ReadOptions(encoding="cp1251"))
    assert res.frame["Name"].to_list() == ["Иван"] and res.files[0].encoding == "cp1251"


def test_the_detector_sample_is_bounded(tmp_path: Path) -> None:
    """A long cp1250 file: the detector sees at most ~64 KiB of non-ASCII lines from the head, plus the
    lines around the first invalid byte; the file is still decided and read whole."""
    line = "user@example.com,Małgorzata Wiśniewska,Łódź\n".encode("cp1250")
    p = write(tmp_path, "long.csv", b"Email,Name,City\n" + line * 40_000)
    bad = first_utf8_error(p)
    assert bad is not None
    sample, suspicious = detection_sample(p, bad[0])
    assert len(sample) <= 70_000 and suspicious.startswith(b"\xb3")
    res = read_sources([p])
    assert res.files[0].encoding == "cp1250" and res.frame.height == 40_000
    assert res.frame["Name"][-1] == "Małgorzata Wiśniewska"


def test_given_encoding_replaces_detection_and_keeps_a_matching_bom(tmp_path: Path) -> None:
    le = write(tmp_path, "le.csv", codecs.BOM_UTF16_LE + ROWS.encode("utf-16-le"))
    res = read_sources([le], options=ReadOptions(encoding="utf-16"))
    assert res.frame.select("Email", "First Name", "City").rows() == EXPECTED
    assert res.files[0].header[0] == "Email"  # the BOM was skipped, not read as a character
    # cp1250 bytes that cp1252 would also decode: told, they read as cp1250
    p = write(tmp_path, "cz.csv", "Email,Name\nj@example.com,Kučera\n".encode("cp1250"))
    assert read_sources([p], options=ReadOptions(encoding="cp1250")).frame["Name"].to_list() == ["Kučera"]
    assert read_sources([p], options=ReadOptions(encoding="cp1252")).frame["Name"].to_list() == ["Kuèera"]


def test_given_utf8_on_a_file_that_is_not_names_the_line(tmp_path: Path) -> None:
    p = write(tmp_path, "bad.csv", b"Email,Name\na@example.com,Ada\nb@example.com,Br\xfcno\n")
    with pytest.raises(InputError, match="although --encoding says UTF-8") as exc:
        read_sources([p], options=ReadOptions(encoding="utf-8"))
    assert (exc.value.line, exc.value.column) == (3, len("b@example.com,Br") + 1)


def test_given_delimiter_replaces_sniffing(tmp_path: Path) -> None:
    p = write(tmp_path, "d.csv", b"Email,Name|Tags\na@example.com,Ada|x,y\n")
    res = read_sources([p], options=ReadOptions(delimiter="|"))
    assert res.files[0].delimiter == "|" and res.files[0].header == ("Email,Name", "Tags")
    assert res.frame["Tags"].to_list() == ["x,y"]


def test_a_close_call_names_the_other_reading(tmp_path: Path) -> None:
    """Two Hungarian names read as names in cp1252 too (ő → õ, an Estonian letter): too little text to
    tell, so cp1252 — the likelier code page — is chosen, and the warning says what else it could be."""
    p = write(tmp_path, "hu.csv", "Email,Name\na@x.hu,Varga Győző\nb@x.hu,Papp Dezső\n".encode("cp1250"))
    res = read_sources([p])
    (note,) = res.files[0].notes
    assert "read as cp1252 (detected, " in note and "cp1250 would read differently" in note
    told = read_sources([p], options=ReadOptions(encoding="cp1250"))
    assert told.frame["Name"].to_list() == ["Varga Győző", "Papp Dezső"]
