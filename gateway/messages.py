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
    "personal_field_not_allowed": {
        "en": "this personal data may not cross in this flow: the agreement does not name "
        "the field (purpose limitation, UU 27/2022); leave it out",
        "id": "data pribadi ini tidak boleh dikirim dalam alur ini: perjanjian tidak "
        "menyebut kolom ini (pembatasan tujuan, UU 27/2022); hapus kolom ini",
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
    # hasil_penilaian_kepatuhan
    "method_year_mismatch": {
        "en": "the assessment method does not apply to this assessment year",
        "id": "metode penilaian tidak berlaku untuk tahun penilaian ini",
    },
    "required_by_method": {
        "en": "this field is required by the assessment method",
        "id": "kolom ini wajib diisi menurut metode penilaian",
    },
    "not_in_method": {
        "en": "the assessment method has no such field: leave it out",
        "id": "metode penilaian tidak memiliki kolom ini: jangan diisi",
    },
    "required_by_scope": {
        "en": "this field is required for this scope (entitas: the units assessed; unit: "
        "the unit's code)",
        "id": "kolom ini wajib diisi untuk lingkup ini (entitas: unit yang dinilai; unit: "
        "kode unit)",
    },
    "not_in_scope": {
        "en": "this field does not belong to a result of this scope (entity or unit)",
        "id": "kolom ini bukan bagian dari hasil dengan lingkup ini (entitas atau unit)",
    },
    "grade_score_mismatch": {
        "en": "the grade does not agree with the total score (the configured score bands)",
        "id": "predikat tidak sesuai dengan nilai total (rentang nilai yang dikonfigurasi)",
    },
    "opinion_score_mismatch": {
        "en": "the opinion does not agree with the total score (the configured score bands)",
        "id": "opini tidak sesuai dengan nilai total (rentang nilai yang dikonfigurasi)",
    },
    "weighted_total_mismatch": {
        "en": "the total score does not agree with the dimension scores and their configured "
        "weights",
        "id": "nilai total tidak sesuai dengan nilai dimensi dan bobot yang dikonfigurasi",
    },
    "qualifier_follow_up_mismatch": {
        "en": "Tanpa Maladministrasi is true exactly when every Ombudsman finding was "
        "followed up",
        "id": "Tanpa Maladministrasi bernilai true hanya jika seluruh produk pengawasan "
        "Ombudsman telah ditindaklanjuti",
    },
    "follow_up_exceeds_products": {
        "en": "more findings followed up than there are findings",
        "id": "jumlah yang ditindaklanjuti melebihi jumlah produk pengawasan",
    },
    "suggestion_count_required": {
        "en": "improvement suggestions are counted from 2023: give their number",
        "id": "saran perbaikan dihitung sejak 2023: cantumkan jumlahnya",
    },
    "suggestion_count_mismatch": {
        "en": "the number of improvement suggestions is not the number listed",
        "id": "jumlah saran perbaikan tidak sama dengan banyaknya saran yang dicantumkan",
    },
    # standar_pelayanan 2.0 and kegiatan_pengembangan 2.0
    "service_code_format": {
        "en": "a service code is the unit's code, a colon and a lower-case slug "
        "(e.g. 3275.DISDUKCAPIL:penerbitan-akta-kelahiran)",
        "id": "kode layanan terdiri atas kode unit, titik dua, dan slug huruf kecil "
        "(mis. 3275.DISDUKCAPIL:penerbitan-akta-kelahiran)",
    },
    "service_code_unit_mismatch": {
        "en": "the service code does not begin with the code of the record's unit",
        "id": "kode layanan tidak diawali kode unit pada rekaman ini",
    },
    "maklumat_date_required": {
        "en": "a published service declaration (maklumat pelayanan) needs its date",
        "id": "maklumat pelayanan yang telah dipublikasikan harus mencantumkan tanggalnya",
    },
    "maklumat_reference_required": {
        "en": "a published service declaration (maklumat pelayanan) needs its number or text",
        "id": "maklumat pelayanan yang telah dipublikasikan harus mencantumkan nomor atau "
        "teksnya",
    },
    "url_format": {
        "en": "not an http or https address",
        "id": "bukan alamat http atau https",
    },
    "url_required": {
        "en": "an online channel needs its address",
        "id": "saluran daring harus mencantumkan alamatnya",
    },
    "description_required": {
        "en": "a value of lainnya (other) needs a description",
        "id": "nilai lainnya harus disertai keterangan",
    },
    "review_date_required": {
        "en": "a standard under review needs the date its review began",
        "id": "standar yang sedang ditinjau harus mencantumkan tanggal peninjauannya",
    },
    "review_not_after_decree": {
        "en": "the review date must fall after the date of the decree",
        "id": "tanggal peninjauan harus setelah tanggal surat keputusan",
    },
    "revocation_required": {
        "en": "a revoked standard needs the decree that revoked it",
        "id": "standar yang dicabut harus mencantumkan keputusan pencabutannya",
    },
    "revocation_without_revoked_status": {
        "en": "a revoking decree is given only when the status is dicabut",
        "id": "keputusan pencabutan hanya diisi bila status dicabut",
    },
    "revocation_not_after_decree": {
        "en": "the revoking decree must be dated after the decree that set the standard",
        "id": "tanggal keputusan pencabutan harus setelah tanggal keputusan penetapan standar",
    },
    "clause_kind_mismatch": {
        "en": "the MoU clause is not the one this kind of activity serves",
        "id": "klausul nota kesepahaman tidak sesuai dengan jenis kegiatan",
    },
    "realisation_required": {
        "en": "an activity carried out (terlaksana) needs its realisation",
        "id": "kegiatan yang terlaksana harus mencantumkan realisasinya",
    },
    "realisation_without_completion": {
        "en": "a realisation is given only when the status is terlaksana",
        "id": "realisasi hanya diisi bila status terlaksana",
    },
    "cancellation_reason_required": {
        "en": "a cancelled activity needs the reason it was cancelled",
        "id": "kegiatan yang dibatalkan harus mencantumkan alasan pembatalannya",
    },
    "cancellation_reason_without_cancellation": {
        "en": "a cancellation reason is given only when the status is dibatalkan",
        "id": "alasan pembatalan hanya diisi bila status dibatalkan",
    },
    "follow_up_without_completion": {
        "en": "a follow-up plan is given only for an activity carried out (terlaksana)",
        "id": "rencana tindak lanjut hanya diisi untuk kegiatan yang terlaksana",
    },
    # lahp 2.0, monitoring_tindak_lanjut 2.0, penilaian_tindak_lanjut 1.0
    "text_contains_nik": {
        "en": "free text must not hold a NIK (16 digits)",
        "id": "teks bebas tidak boleh memuat NIK (16 digit)",
    },
    "text_contains_phone": {
        "en": "free text must not hold a phone number",
        "id": "teks bebas tidak boleh memuat nomor telepon",
    },
    "text_contains_email": {
        "en": "free text must not hold an e-mail address",
        "id": "teks bebas tidak boleh memuat alamat email",
    },
    "action_id_format": {
        "en": "an action identifier is 1 to 32 letters, digits, dots, hyphens or "
        "underscores, starting with a letter or digit",
        "id": "pengenal tindakan terdiri atas 1 sampai 32 huruf, angka, titik, tanda hubung "
        "atau garis bawah, diawali huruf atau angka",
    },
    "duplicate_action_id": {
        "en": "another corrective action of this report has the same identifier",
        "id": "tindakan korektif lain dalam laporan ini memakai pengenal yang sama",
    },
    "stop_reason_required": {
        "en": "a stopped examination must say why it was stopped",
        "id": "pemeriksaan yang dihentikan harus menyebut alasan penghentiannya",
    },
    "stop_reason_without_stop": {
        "en": "a reason for stopping is given only when the examination was stopped",
        "id": "alasan penghentian hanya diisi bila pemeriksaan dihentikan",
    },
    "deadline_required": {
        "en": "a corrective action's follow-up must carry the deadline set in the report",
        "id": "tindak lanjut tindakan korektif harus memuat batas waktu yang ditetapkan "
        "dalam laporan",
    },
    "deadline_without_corrective_action": {
        "en": "a recommendation's follow-up carries no deadline: its report is due 60 days "
        "after receipt",
        "id": "tindak lanjut rekomendasi tidak memuat batas waktu: laporannya wajib "
        "disampaikan 60 hari sejak diterima",
    },
    "superior_report_required": {
        "en": "the follow-up of a recommendation is reported by the Wali Kota, the "
        "terlapor's superior (UU 37/2008 Pasal 38(2))",
        "id": "tindak lanjut rekomendasi dilaporkan oleh Wali Kota sebagai atasan terlapor "
        "(UU 37/2008 Pasal 38 ayat (2))",
    },
    "report_before_receipt": {
        "en": "the report date is before the day the report or recommendation was received",
        "id": "tanggal laporan sebelum tanggal diterimanya laporan hasil pemeriksaan atau "
        "rekomendasi",
    },
    "late_flag_mismatch": {
        "en": "terlambat does not agree with the dates: a report is late when it comes after "
        "its deadline (a recommendation: 60 days after receipt)",
        "id": "terlambat tidak sesuai dengan tanggalnya: laporan terlambat bila disampaikan "
        "setelah batas waktunya (rekomendasi: 60 hari sejak diterima)",
    },
    "assessment_before_report": {
        "en": "the verdict is dated before the follow-up report it assesses",
        "id": "tanggal penilaian sebelum tanggal laporan tindak lanjut yang dinilai",
    },
    "assessment_reason_required": {
        "en": "a verdict other than diterima must give its reasons",
        "id": "penilaian selain diterima harus menyebut alasannya",
    },
    "response_deadline_required": {
        "en": "a request for clarification must give a deadline for the answer",
        "id": "permintaan klarifikasi harus menyebut batas waktu tanggapan",
    },
    "deadline_not_after_assessment": {
        "en": "the deadline for the answer must fall after the verdict date",
        "id": "batas waktu tanggapan harus setelah tanggal penilaian",
    },
    # rekap_pengaduan 2.0: complementary suppression and the SP4N-LAPOR! follow-up counts
    "suppressed_count_derivable": {
        "en": "this withheld count can be worked out from the other counts of the record; "
        "withhold more counts beside it (complementary suppression)",
        "id": "jumlah yang disamarkan ini dapat dihitung dari jumlah lain dalam rekaman; "
        "samarkan juga jumlah lain di sampingnya (penyamaran komplementer)",
    },
    "dimension_total_mismatch": {
        "en": "the counts of this dimension cannot add up to the month's total",
        "id": "jumlah pada dimensi ini tidak mungkin sama dengan jumlah laporan sebulan",
    },
    "data_date_before_period_end": {
        "en": "the data date must fall after the month counted",
        "id": "tanggal data harus sesudah bulan yang direkap berakhir",
    },
    "lapor_received_mismatch": {
        "en": "the SP4N-LAPOR! reports received must be the sp4n_lapor channel's count, "
        "withheld alike",
        "id": "jumlah laporan SP4N-LAPOR! yang diterima harus sama dengan jumlah saluran "
        "sp4n_lapor, dan disamarkan bila saluran itu disamarkan",
    },
    "lapor_count_exceeds_received": {
        "en": "this count is larger than the SP4N-LAPOR! reports received",
        "id": "jumlah ini melebihi jumlah laporan SP4N-LAPOR! yang diterima",
    },
    "lapor_timely_and_overdue_exceed_received": {
        "en": "reports followed up in time and overdue reports together exceed the reports "
        "received",
        "id": "laporan yang ditindaklanjuti tepat waktu dan yang melewati batas waktu "
        "bersama-sama melebihi laporan yang diterima",
    },
    "lapor_closed_exceeds_followed_up": {
        "en": "more reports closed than followed up (in time or late)",
        "id": "laporan yang selesai lebih banyak daripada yang ditindaklanjuti (tepat waktu "
        "atau terlambat)",
    },
    # permintaan_klarifikasi 2.0 and tanggapan_klarifikasi 3.0
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
    # the receiver of a submission (gateway.exchange.intake)
    "receiver_required": {
        "en": "this node sends the dataset to several parties: name one in the body's "
        "member receiver, one of",
        "id": "node ini mengirim dataset ini ke beberapa pihak: sebutkan salah satunya di "
        "anggota receiver pada badan permintaan, salah satu dari",
    },
    "unknown_receiver": {
        "en": "this node does not send the dataset to that receiver; name one of",
        "id": "node ini tidak mengirim dataset ini ke penerima tersebut; sebutkan salah satu "
        "dari",
    },
    # the working-day calendar (gateway.cases.calendar)
    "calendar_not_covered": {
        "en": "the date is outside the years of the working-day calendar; its holidays and "
        "cuti bersama are not known",
        "id": "tanggal di luar tahun-tahun kalender hari kerja; hari libur nasional dan cuti "
        "bersamanya belum diketahui",
    },
    "calendar_error": {
        "en": "the working-day calendar file cannot be read",
        "id": "berkas kalender hari kerja tidak dapat dibaca",
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
