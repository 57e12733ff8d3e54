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

# permintaan_klarifikasi 2.0 and tanggapan_klarifikasi 3.0.

# Intake types that are not reports (PO 58/2023): a consultation (konsultasi non-laporan)
# and a copy of a complaint sent elsewhere (tembusan) lead to no clarification request.
BUKAN_LAPORAN = ("konsultasi_non_laporan", "tembusan")

# How the Ombudsman asks for the clarification.
BENTUK_KLARIFIKASI = ("surat", "pertemuan", "kunjungan_lapangan")

# The purposes for which a clarification request may carry an identity number: the reported
# unit cannot act on the matter without it. Anything else goes without a NIK.
TUJUAN_NOMOR_IDENTITAS = (
    "penerbitan_dokumen_kependudukan",
    "perbaikan_data_kependudukan",
    "verifikasi_penerima_bantuan_sosial",
    "verifikasi_kepesertaan_jaminan_kesehatan",
    "penelusuran_permohonan_perizinan",
)

# The words an Indonesian job title (jabatan) of a Pemkot official starts with, lower case:
# structural posts, functional posts and their usual abbreviations. An acting official's
# prefix (Plt., Plh., Pj., Pjs.) may come first.
AWALAN_JABATAN = (
    # structural posts
    "wali", "wakil", "sekretaris", "asisten", "staf", "kepala", "inspektur", "direktur",
    "camat", "lurah", "ketua", "koordinator", "subkoordinator", "pejabat", "bendahara",
    # usual abbreviations
    "sekda", "sekdis", "sekban", "sekcam", "seklur", "kadis", "kaban", "kabid", "kabag",
    "kasi", "kasie", "kasubag", "kasubbag", "kasubbid", "kapus", "kasat", "kalak", "irban",
    "ppid",
    # functional posts
    "analis", "pranata", "penata", "pengelola", "pengadministrasi", "pelaksana", "petugas",
    "operator", "auditor", "pengawas", "perencana", "arsiparis", "pustakawan", "statistisi",
    "widyaiswara", "penyuluh", "dokter", "perawat", "bidan", "apoteker", "sanitarian",
    "epidemiolog", "nutrisionis", "guru", "penilik", "pamong", "polisi", "penyidik",
    "verifikator", "mediator", "pengantar", "instruktur", "juru", "teknisi", "penguji",
    "asesor", "penilai", "pekerja", "tenaga", "fungsional",
)
