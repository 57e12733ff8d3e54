from gateway.messages import LANGUAGES, field_message, known_codes


def test_every_code_has_a_message_in_every_language():
    for code in known_codes():
        for language in LANGUAGES:
            message = field_message(code, language)
            assert message and message != code, (code, language)
    assert field_message("one_of", "id") != field_message("one_of", "en")


def test_an_unknown_code_or_language_falls_back():
    assert field_message("no_such_code", "id") == "no_such_code"
    assert field_message("required", "fr") == field_message("required", "en")
