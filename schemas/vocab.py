"""Closed vocabularies of complaint handling (see ``docs/`` and the domain reference).

Values are lower-case snake_case forms of the Indonesian terms the Ombudsman
uses in its statistics and regulations, so they are stable identifiers.
"""

MALADMINISTRASI = (
    "penundaan_berlarut",
    "penyimpangan_prosedur",
    "tidak_memberikan_pelayanan",
    "penyalahgunaan_wewenang",
    "permintaan_imbalan",
    "tidak_kompeten",
    "tidak_patut",
    "diskriminasi",
    "berpihak",
    "konflik_kepentingan",
)

JENIS_PENERIMAAN = (
    "laporan_masyarakat",
    "respons_cepat_ombudsman",
    "investigasi_prakarsa_sendiri",
    "konsultasi_non_laporan",
    "tembusan",
)

SALURAN = (
    "datang_langsung",
    "surat",
    "email",
    "whatsapp",
    "telepon",
    "website",
    "penerimaan_di_lokasi",
)

SUBSTANSI = (
    "pertanahan",
    "kepegawaian",
    "administrasi_kependudukan",
    "pendidikan",
    "kepolisian",
    "kesehatan",
    "ketenagakerjaan",
    "jaminan_sosial",
    "perizinan",
    "desa",
    "kelistrikan",
    "air_minum",
    "perhubungan",
    "lainnya",
)

TAHAP = ("penerimaan_verifikasi", "pemeriksaan", "resolusi_monitoring")

STATUS_TANGGAPAN = ("selesai", "dalam_proses", "tidak_dapat_ditindaklanjuti", "bukan_kewenangan")

# Why an examination was stopped (kesimpulan pemeriksaan_dihentikan of an LHP): the
# grounds of UU 37/2008 Pasal 36(1) on which a report is not examined further, and the
# reporter's withdrawal or silence. PO 58/2023 words them in its own way (unconfirmed).
ALASAN_PENGHENTIAN = (
    "pelapor_mencabut_laporan",
    "pelapor_tidak_menanggapi",
    "belum_menyampaikan_keberatan_kepada_terlapor",
    "objek_pemeriksaan_pengadilan",
    "dalam_proses_penyelesaian_terlapor",
    "telah_diselesaikan_terlapor",
    "bukan_kewenangan_ombudsman",
    "diselesaikan_melalui_mediasi_konsiliasi",
)

# The Ombudsman's verdict on a follow-up report (penilaian_tindak_lanjut).
PENILAIAN_TINDAK_LANJUT = ("diterima", "diterima_sebagian", "ditolak", "perlu_klarifikasi")
