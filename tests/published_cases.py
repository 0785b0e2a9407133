"""Published 起运 cases, verbatim, shared by the unit tests (derive_profile) and the integration
tests (POST /v1/profiles).

Source: lunar-python's own test suite, https://github.com/6tail/lunar-python at v1.4.6 (commit
2fc4452), files test/YunTest.py and test/EightCharTest.py. Each case is the library's call
(`Solar.fromYmdHms` or `Lunar.fromYmd[Hms]`, `getEightChar().getYun(gender, sect)`, gender 1 = male,
0 = female, sect 1 by default) and the values it asserts (`getStartYear/Month/Day`,
`getStartSolar().toYmd()`). `Lunar.fromYmd` means 00:00, which is given here as birthTime "00:00";
sect 1 is our `days` convention, sect 2 `minutes`.
"""

from __future__ import annotations

from typing import Any

#: (where, birth input for BirthProfile, convention, (years, months, days) or None, start date)
QI_YUN_CASES: list[tuple[str, dict[str, Any], str, tuple[int, int, int] | None, str]] = [
    # YunTest.test: Solar.fromYmdHms(1981, 1, 29, 23, 37, 0) ... getYun(0)
    #   8 起运年数, 0 起运月数, 20 起运天数, "1989-02-18" 起运阳历
    ("YunTest.test", {"birthDate": "1981-01-29", "birthTime": "23:37", "gender": "female"},
     "days", (8, 0, 20), "1989-02-18"),
    # YunTest.test2: Lunar.fromYmdHms(2019, 12, 12, 11, 22, 0) ... getYun(1): 0, 1, 0, "2020-02-06"
    ("YunTest.test2", {"birthDate": "2019-12-12", "calendar": "lunar", "birthTime": "11:22",
                       "gender": "male"}, "days", (0, 1, 0), "2020-02-06"),
    # YunTest.test3: Solar.fromYmdHms(2020, 1, 6, 11, 22, 0) ... getYun(1): 0, 1, 0, "2020-02-06"
    ("YunTest.test3", {"birthDate": "2020-01-06", "birthTime": "11:22", "gender": "male"},
     "days", (0, 1, 0), "2020-02-06"),
    # YunTest.test4: Solar.fromYmdHms(2022, 3, 9, 20, 51, 0) ... getYun(1): "2030-12-19"
    ("YunTest.test4", {"birthDate": "2022-03-09", "birthTime": "20:51", "gender": "male"},
     "days", None, "2030-12-19"),
    # YunTest.test5: Solar.fromYmdHms(2022, 3, 9, 20, 51, 0) ... getYun(1, 2): 8, 9, 2, "2030-12-12"
    ("YunTest.test5", {"birthDate": "2022-03-09", "birthTime": "20:51", "gender": "male"},
     "minutes", (8, 9, 2), "2030-12-12"),
    # YunTest.test6: Solar.fromYmdHms(2018, 6, 11, 9, 30, 0) ... getYun(0, 2): "2020-03-21"
    ("YunTest.test6", {"birthDate": "2018-06-11", "birthTime": "09:30", "gender": "female"},
     "minutes", None, "2020-03-21"),
    # EightCharTest.test4: Lunar.fromYmd(1985, 12, 27) ... getYun(1): "1995-11-05"
    ("EightCharTest.test4", {"birthDate": "1985-12-27", "calendar": "lunar", "birthTime": "00:00",
                             "gender": "male"}, "days", None, "1995-11-05"),
    # EightCharTest.test5: Lunar.fromYmd(1985, 1, 27) ... getYun(1): "1989-03-28"
    ("EightCharTest.test5", {"birthDate": "1985-01-27", "calendar": "lunar", "birthTime": "00:00",
                             "gender": "male"}, "days", None, "1989-03-28"),
    # EightCharTest.test6: Lunar.fromYmd(1986, 12, 27) ... getYun(1): "1990-04-15"
    ("EightCharTest.test6", {"birthDate": "1986-12-27", "calendar": "lunar", "birthTime": "00:00",
                             "gender": "male"}, "days", None, "1990-04-15"),
]  # fmt: skip
