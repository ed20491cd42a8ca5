"""The licences datasets are published under: CKAN's default list (its ids, so that clients and
harvested portals agree) and the terms of use of state agencies' open data in Vietnam (Decree
47/2020/NĐ-CP, Art. 18: free to copy, share and combine, commercial use included; the source must
be cited; the data may not be sold as extracted), the default for the city's own datasets."""

from __future__ import annotations

from typing import NamedTuple


class Lic(NamedTuple):
    id: str
    title: str
    title_en: str
    url: str
    od: str = "not reviewed"
    osd: str = "not reviewed"
    is_open: bool = True


VN_OPEN = "vn-nd47-2020"

LICENSES: tuple[Lic, ...] = (
    Lic(VN_OPEN, "Dữ liệu mở của cơ quan nhà nước (Nghị định 47/2020/NĐ-CP, Điều 18)",
        "Open data of state agencies (Decree 47/2020/ND-CP, Art. 18)",
        "https://vanban.chinhphu.vn/?pageid=27160&docid=199524", "approved"),
    Lic("cc-by", "Creative Commons Ghi công 4.0", "Creative Commons Attribution",
        "http://www.opendefinition.org/licenses/cc-by", "approved"),
    Lic("cc-by-sa", "Creative Commons Ghi công - Chia sẻ tương tự", "Creative Commons Attribution Share-Alike",
        "http://www.opendefinition.org/licenses/cc-by-sa", "approved"),
    Lic("cc-zero", "Creative Commons CC0", "Creative Commons CCZero", "http://www.opendefinition.org/licenses/cc-zero",
        "approved"),
    Lic("cc-nc", "Creative Commons Phi thương mại", "Creative Commons Non-Commercial (Any)",
        "http://creativecommons.org/licenses/by-nc/2.0/", is_open=False),
    Lic("odc-by", "Open Data Commons Attribution License", "Open Data Commons Attribution License",
        "http://www.opendefinition.org/licenses/odc-by", "approved"),
    Lic("odc-odbl", "Open Data Commons Open Database License (ODbL)",
        "Open Data Commons Open Database License (ODbL)", "http://www.opendefinition.org/licenses/odc-odbl",
        "approved"),
    Lic("odc-pddl", "Open Data Commons Public Domain Dedication and License (PDDL)",
        "Open Data Commons Public Domain Dedication and License (PDDL)",
        "http://www.opendefinition.org/licenses/odc-pddl", "approved"),
    Lic("other-open", "Khác (mở)", "Other (Open)", ""),
    Lic("other-pd", "Khác (phạm vi công cộng)", "Other (Public Domain)", ""),
    Lic("other-at", "Khác (ghi công)", "Other (Attribution)", ""),
    Lic("other-nc", "Khác (phi thương mại)", "Other (Non-Commercial)", "", is_open=False),
    Lic("other-closed", "Khác (không mở)", "Other (Not Open)", "", is_open=False),
    Lic("notspecified", "Chưa xác định giấy phép", "License not specified", "", is_open=False),
)  # fmt: skip
