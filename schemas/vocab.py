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

# -- standar_pelayanan 2.0 and kegiatan_pengembangan 2.0 -------------------------------------

# Where a service standard stands: in force, under review, or revoked.
STATUS_STANDAR = ("berlaku", "dalam_peninjauan", "dicabut")

# Where a service standard is published. "sippn": the national public service information
# system (Sistem Informasi Pelayanan Publik Nasional, UU 25/2009 Pasal 23).
SALURAN_PUBLIKASI = (
    "website",
    "sippn",
    "aplikasi",
    "media_sosial",
    "papan_informasi",
    "brosur",
    "lainnya",
)
# The channels that have an address: each publication there names its URL.
SALURAN_PUBLIKASI_DARING = ("website", "sippn", "aplikasi", "media_sosial")

# The groups owed special treatment and facilities (UU 25/2009 Pasal 4 huruf j and
# Pasal 29 with its elucidation: penyandang cacat, lanjut usia, wanita hamil, anak-anak,
# korban bencana alam and bencana sosial; UU 8/2016 says penyandang disabilitas).
# Breast-feeding mothers are listed apart, as service standards list a lactation room.
KELOMPOK_RENTAN = (
    "penyandang_disabilitas",
    "lansia",
    "ibu_hamil",
    "ibu_menyusui",
    "anak",
    "korban_bencana",
)

# Facilities for those groups that service standards and the Ombudsman's compliance
# assessment name; "lainnya" with a description for any other.
FASILITAS_KELOMPOK_RENTAN = (
    "loket_prioritas",
    "kursi_tunggu_prioritas",
    "bidang_miring",
    "kursi_roda",
    "toilet_khusus",
    "jalur_pemandu",
    "parkir_khusus",
    "ruang_laktasi",
    "ruang_bermain_anak",
    "penerjemah_bahasa_isyarat",
    "layanan_jemput_bola",
    "lainnya",
)

# Kinds of development activity and the MoU clause (config/agreements/ [purposes]) each
# serves: 5 staff competence, 6 periodic mentoring, 2 compliance and prevention of
# maladministration. The clause follows from the kind, whichever party organises it.
# Unconfirmed: the MoU text does not map kinds to clauses; this mapping is the agreement's
# reading of it, kept here as data so that it can change without code.
KLAUSUL_KEGIATAN = {
    "pelatihan": 5,
    "bimbingan_teknis": 5,
    "pendampingan": 6,
    "monitoring_evaluasi": 2,
    "sosialisasi": 2,
    "focus_group_discussion": 2,
    "forum_konsultasi_publik": 2,
}
JENIS_KEGIATAN_PENGEMBANGAN = tuple(KLAUSUL_KEGIATAN)

STATUS_KEGIATAN = ("direncanakan", "terlaksana", "dibatalkan")

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
