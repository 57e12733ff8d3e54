"""The registry of agreed schemas, keyed by (dataset, version).

Adding a dataset or a version is a deliberate change to this table; the
agreement then names which of the registered versions each party accepts.
"""

from __future__ import annotations

from marshmallow import Schema

from schemas.hasil_penilaian_kepatuhan import (
    HasilPenilaianKepatuhanV1,
    HasilPenilaianKepatuhanV2,
)
from schemas.kegiatan_pengembangan import KegiatanPengembanganV1, KegiatanPengembanganV2
from schemas.lahp import LahpV1, LahpV2
from schemas.monitoring_tindak_lanjut import MonitoringTindakLanjutV1, MonitoringTindakLanjutV2
from schemas.penilaian_tindak_lanjut import PenilaianTindakLanjutV1
from schemas.permintaan_klarifikasi import PermintaanKlarifikasiV1, PermintaanKlarifikasiV2
from schemas.rekap_pengaduan import RekapPengaduanV1, RekapPengaduanV2
from schemas.standar_pelayanan import StandarPelayananV1, StandarPelayananV2
from schemas.tanggapan_klarifikasi import (
    TanggapanKlarifikasiV1,
    TanggapanKlarifikasiV2,
    TanggapanKlarifikasiV3,
)

_REGISTRY: dict[tuple[str, str], type[Schema]] = {
    ("permintaan_klarifikasi", "1.0"): PermintaanKlarifikasiV1,
    ("lahp", "1.0"): LahpV1,
    ("hasil_penilaian_kepatuhan", "1.0"): HasilPenilaianKepatuhanV1,
    ("hasil_penilaian_kepatuhan", "2.0"): HasilPenilaianKepatuhanV2,
    ("standar_pelayanan", "1.0"): StandarPelayananV1,
    ("rekap_pengaduan", "1.0"): RekapPengaduanV1,
    ("rekap_pengaduan", "2.0"): RekapPengaduanV2,
    ("monitoring_tindak_lanjut", "1.0"): MonitoringTindakLanjutV1,
    ("kegiatan_pengembangan", "1.0"): KegiatanPengembanganV1,
    ("tanggapan_klarifikasi", "1.0"): TanggapanKlarifikasiV1,
    ("tanggapan_klarifikasi", "2.0"): TanggapanKlarifikasiV2,
    ("standar_pelayanan", "2.0"): StandarPelayananV2,
    ("kegiatan_pengembangan", "2.0"): KegiatanPengembanganV2,
    ("lahp", "2.0"): LahpV2,
    ("monitoring_tindak_lanjut", "2.0"): MonitoringTindakLanjutV2,
    ("penilaian_tindak_lanjut", "1.0"): PenilaianTindakLanjutV1,
    ("permintaan_klarifikasi", "2.0"): PermintaanKlarifikasiV2,
    ("tanggapan_klarifikasi", "3.0"): TanggapanKlarifikasiV3,
}


def dataset_names() -> list[str]:
    return sorted({name for name, _ in _REGISTRY})


def versions(dataset: str) -> list[str]:
    return sorted(v for name, v in _REGISTRY if name == dataset)


def schema_class(dataset: str, version: str) -> type[Schema]:
    """The schema class for one dataset version; ``KeyError`` if there is none."""
    return _REGISTRY[(dataset, version)]
