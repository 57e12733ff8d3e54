"""Messages for field error codes, in English and Bahasa Indonesia.

Codes are the stable contract; messages may be reworded or translated without
breaking a client that acts on the codes. The API picks the language from the
request's ``Accept-Language`` (English when it names neither).
"""

from __future__ import annotations

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "field_message", "known_codes"]

DEFAULT_LANGUAGE = "en"
LANGUAGES = ("en", "id")

_MESSAGES: dict[str, dict[str, str]] = {
    "required": {
        "en": "this field is required",
        "id": "kolom ini wajib diisi",
    },
    "null": {
        "en": "this field may not be null",
        "id": "kolom ini tidak boleh kosong (null)",
    },
    "invalid": {
        "en": "value has the wrong type or format",
        "id": "jenis atau format nilai salah",
    },
    "invalid_type": {
        "en": "a record must be a JSON object",
        "id": "setiap rekaman harus berupa objek JSON",
    },
    "invalid_text": {
        "en": "text must be Unicode: a lone surrogate (such as \\ud800) is not allowed",
        "id": "teks harus Unicode: surrogate tunggal (seperti \\ud800) tidak diperbolehkan",
    },
    "too_many_unknown_fields": {
        "en": "this object has too many fields that are not part of the agreed schema",
        "id": "objek ini memuat terlalu banyak kolom yang bukan bagian dari skema yang "
        "disepakati",
    },
    "too_large": {
        "en": "the number is too large",
        "id": "angka terlalu besar",
    },
    "invalid_utf8": {
        "en": "text is not valid UTF-8",
        "id": "teks bukan UTF-8 yang sah",
    },
    "unknown_field": {
        "en": "this field is not part of the agreed schema",
        "id": "kolom ini bukan bagian dari skema yang disepakati",
    },
    "length": {
        "en": "value is too short or too long",
        "id": "nilai terlalu pendek atau terlalu panjang",
    },
    "untrimmed": {
        "en": "value has leading or trailing white space",
        "id": "nilai diawali atau diakhiri spasi",
    },
    "one_of": {
        "en": "value is not one of the agreed values",
        "id": "nilai tidak termasuk nilai yang disepakati",
    },
    "format": {
        "en": "value has the wrong format",
        "id": "format nilai salah",
    },
    "phone_format": {
        "en": "not a phone number",
        "id": "bukan nomor telepon",
    },
    "sha256_format": {
        "en": "must be 64 lower-case hex digits",
        "id": "harus 64 digit heksadesimal huruf kecil",
    },
    "nik_format": {
        "en": "a NIK is exactly 16 digits",
        "id": "NIK harus tepat 16 digit",
    },
    "nik_birth_date": {
        "en": "the NIK's birth date digits do not form a real date",
        "id": "digit tanggal lahir pada NIK bukan tanggal yang sah",
    },
    "nik_region": {
        "en": "the NIK's first six digits are not a real province, city and district",
        "id": "enam digit pertama NIK bukan kode provinsi, kabupaten/kota dan kecamatan yang sah",
    },
    "nik_sequence": {
        "en": "the NIK's sequence number cannot be 0000",
        "id": "nomor urut NIK tidak boleh 0000",
    },
    "region_unknown": {
        "en": "not a Kemendagri region code of Kota Bekasi",
        "id": "bukan kode wilayah Kemendagri di Kota Bekasi",
    },
    "unit_unknown": {
        "en": "not the code of a unit in the register of Kota Bekasi's perangkat daerah",
        "id": "bukan kode unit dalam daftar perangkat daerah Kota Bekasi",
    },
    "deadline_not_after_letter": {
        "en": "the response deadline must fall after the letter date",
        "id": "batas waktu tanggapan harus setelah tanggal surat",
    },
    "incident_after_letter": {
        "en": "the incident cannot be after the letter date",
        "id": "tanggal kejadian tidak boleh setelah tanggal surat",
    },
    "incident_too_old": {
        "en": "the incident is more than two years before the letter date",
        "id": "kejadian lebih dari dua tahun sebelum tanggal surat",
    },
    "confidential_with_identity": {
        "en": "a confidential report must not carry the reporter's identity",
        "id": "laporan yang dirahasiakan tidak boleh memuat identitas pelapor",
    },
    "evidence_required": {
        "en": "evidence is required for this status",
        "id": "status ini wajib disertai bukti",
    },
    "reporter_required": {
        "en": "a report that is not confidential must carry the reporter's identity",
        "id": "laporan yang tidak dirahasiakan harus memuat identitas pelapor",
    },
    "completion_date_without_completion": {
        "en": "a completion date is given only when the status is selesai",
        "id": "tanggal selesai hanya diisi bila status selesai",
    },
    "corrective_actions_required": {
        "en": "a finding of maladministration must name corrective actions",
        "id": "temuan maladministrasi harus memuat tindakan korektif",
    },
    "corrective_actions_without_finding": {
        "en": "corrective actions are given only when maladministration is found",
        "id": "tindakan korektif hanya diisi bila ditemukan maladministrasi",
    },
    "maladministration_types_required": {
        "en": "a finding of maladministration must name its types",
        "id": "temuan maladministrasi harus menyebut jenisnya",
    },
    "maladministration_types_without_finding": {
        "en": "maladministration types are given only when maladministration is found",
        "id": "jenis maladministrasi hanya diisi bila ditemukan maladministrasi",
    },
    "deadline_not_after_lahp": {
        "en": "the deadline must fall after the LAHP date",
        "id": "batas waktu harus setelah tanggal LAHP",
    },
    "range": {
        "en": "value is outside the agreed range",
        "id": "nilai di luar rentang yang disepakati",
    },
    "too_many_decimals": {
        "en": "at most two decimals",
        "id": "paling banyak dua angka desimal",
    },
    "grade_zone_mismatch": {
        "en": "the zone does not agree with the grade (A, B: hijau; C: kuning; D, E: merah)",
        "id": "zona tidak sesuai dengan predikat (A, B: hijau; C: kuning; D, E: merah)",
    },
    "grade_opinion_mismatch": {
        "en": "the opinion does not agree with the grade",
        "id": "opini tidak sesuai dengan predikat",
    },
    "fee_legal_basis_required": {
        "en": "a fee above Rp 0 needs its legal basis",
        "id": "biaya di atas Rp 0 harus mencantumkan dasar hukumnya",
    },
    "count_not_suppressed": {
        "en": "a count from 1 to 4 must be suppressed (jumlah null, disamarkan true)",
        "id": "jumlah 1 sampai 4 harus disamarkan (jumlah null, disamarkan true)",
    },
    "suppressed_count_sent": {
        "en": "a suppressed row carries no count",
        "id": "baris yang disamarkan tidak memuat jumlah",
    },
    "value_not_in_dimension": {
        "en": "not a value of this row's dimension",
        "id": "bukan nilai dari dimensi baris ini",
    },
    "count_required": {
        "en": "a row that is not suppressed must carry its count",
        "id": "baris yang tidak disamarkan harus memuat jumlahnya",
    },
    "duplicate_row": {
        "en": "this dimension and value are counted twice",
        "id": "dimensi dan nilai ini dihitung dua kali",
    },
    "reason_required": {
        "en": "a reason is required unless the action was fully carried out",
        "id": "alasan wajib diisi kecuali tindakan telah dilaksanakan seluruhnya",
    },
    "action_index_required": {
        "en": "a corrective action is identified by its index in the LAHP",
        "id": "tindakan korektif ditunjuk dengan nomor urutnya dalam LAHP",
    },
    "end_before_start": {
        "en": "the end date is before the start date",
        "id": "tanggal selesai sebelum tanggal mulai",
    },
    "participant_counts_mismatch": {
        "en": "men and women do not add up to the number of participants",
        "id": "jumlah peserta laki-laki dan perempuan tidak sama dengan jumlah peserta",
    },
    "target_before_end": {
        "en": "the target date is before the end of the activity",
        "id": "tanggal target sebelum kegiatan selesai",
    },
    "duplicate_value": {
        "en": "this list names the same value more than once",
        "id": "daftar ini menyebut nilai yang sama lebih dari sekali",
    },
    "action_reference_required": {
        "en": "an action of a recommendation must be named by its position or its text",
        "id": "tindakan dari rekomendasi harus disebut dengan nomor urut atau uraiannya",
    },
    "special": {
        "en": "a number may not be NaN or infinite",
        "id": "angka tidak boleh NaN atau tak hingga",
    },
    "validator_failed": {
        "en": "value is not valid",
        "id": "nilai tidak sah",
    },
    # permintaan_klarifikasi 2.0 and tanggapan_klarifikasi 3.0
    "text_contains_nik": {
        "en": "the text holds a NIK-shaped number (16 digits): remove it before sending",
        "id": "teks memuat angka berbentuk NIK (16 digit): hapus sebelum dikirim",
    },
    "text_contains_phone": {
        "en": "the text holds a phone number (+62, 62 or 0 and 8 to 13 digits): remove it "
        "before sending",
        "id": "teks memuat nomor telepon (+62, 62 atau 0 diikuti 8 sampai 13 digit): hapus "
        "sebelum dikirim",
    },
    "text_contains_email": {
        "en": "the text holds an e-mail address: remove it before sending",
        "id": "teks memuat alamat e-mail: hapus sebelum dikirim",
    },
    "intake_not_a_report": {
        "en": "a konsultasi non-laporan or a tembusan is not a report and leads to no "
        "clarification request",
        "id": "konsultasi non-laporan atau tembusan bukan laporan dan tidak menghasilkan "
        "permintaan klarifikasi",
    },
    "registration_after_letter": {
        "en": "the report cannot be registered after the letter date",
        "id": "tanggal registrasi laporan tidak boleh setelah tanggal surat",
    },
    "incident_after_registration": {
        "en": "the incident cannot be after the report's registration",
        "id": "tanggal kejadian tidak boleh setelah tanggal registrasi laporan",
    },
    "incident_too_old_at_registration": {
        "en": "the report was registered more than two years after the incident "
        "(UU 37/2008 Pasal 24(3))",
        "id": "laporan diregistrasi lebih dari dua tahun setelah kejadian "
        "(UU 37/2008 Pasal 24 ayat (3))",
    },
    "own_motion_with_reporter": {
        "en": "an own-motion investigation has no reporter: no reporter, consent or "
        "identity number",
        "id": "investigasi atas prakarsa sendiri tidak memiliki pelapor: tanpa pelapor, "
        "persetujuan, maupun nomor identitas",
    },
    "own_motion_confidential": {
        "en": "an own-motion investigation has no reporter to keep confidential: omit the "
        "flag or send false",
        "id": "investigasi atas prakarsa sendiri tidak memiliki pelapor yang dirahasiakan: "
        "kosongkan penanda ini atau isi false",
    },
    "confidentiality_flag_required": {
        "en": "a report must say whether the reporter's identity is kept confidential",
        "id": "laporan harus menyatakan apakah identitas pelapor dirahasiakan",
    },
    "disclosure_consent_required": {
        "en": "the reporter's name is sent only with the reporter's recorded consent to its "
        "disclosure",
        "id": "nama pelapor hanya dikirim bila tercatat persetujuan pelapor atas "
        "pengungkapannya",
    },
    "consent_after_letter": {
        "en": "the consent cannot be dated after the letter",
        "id": "tanggal persetujuan tidak boleh setelah tanggal surat",
    },
    "identity_consent_required": {
        "en": "an identity number is sent only with the reporter's consent",
        "id": "nomor identitas hanya dikirim dengan persetujuan pelapor",
    },
    "job_title_not_indonesian": {
        "en": "the position must be an Indonesian job title (jabatan), such as Kepala Dinas, "
        "Sekretaris Dinas or Kepala Bidang Pelayanan",
        "id": "jabatan harus berupa nama jabatan dalam bahasa Indonesia, misalnya Kepala "
        "Dinas, Sekretaris Dinas atau Kepala Bidang Pelayanan",
    },
    "completion_after_answer": {
        "en": "the completion date cannot be after the answer date",
        "id": "tanggal selesai tidak boleh setelah tanggal tanggapan",
    },
}


def field_message(code: str, language: str = DEFAULT_LANGUAGE) -> str:
    """The message for ``code`` in ``language`` (the code itself if none is known)."""
    texts = _MESSAGES.get(code)
    if texts is None:
        return code
    return texts.get(language) or texts[DEFAULT_LANGUAGE]


def known_codes() -> frozenset[str]:
    return frozenset(_MESSAGES)
