"""The one table of languages: names and the section headers of a PLUG answer.

Every language-dependent string in the package (system prompts, headers, extraction,
language identification) is looked up here, so adding a language is one line.
The five response headers of the paper's reference code (en, zh, ko, it, es) are kept
byte for byte: models trained with them and their extractor must keep agreeing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Language:
    """A language PLUG can pivot through or answer in."""

    code: str  # ISO 639-1
    name: str  # English name, used in system prompts ("respond in Korean")
    native: str  # the language's own name for itself
    instruction_header: str  # precedes the instruction restated in this language
    response_header: str  # precedes the answer in this language


def _table(*rows: tuple[str, str, str, str, str]) -> dict[str, Language]:
    return {row[0]: Language(*row) for row in rows}


LANGUAGES: dict[str, Language] = _table(
    # code, English name, native name, instruction header, response header
    ("en", "English", "English", "English instruction:", "English response:"),
    ("zh", "Chinese", "中文", "中文指令：", "中文回复："),
    ("ko", "Korean", "한국어", "한국어 지시문:", "한국어 응답:"),
    ("it", "Italian", "Italiano", "Istruzione in italiano:", "Risposta in italiano:"),
    ("es", "Spanish", "Español", "Instrucción en español:", "Respuesta en español:"),
    ("de", "German", "Deutsch", "Anweisung auf Deutsch:", "Antwort auf Deutsch:"),
    ("fr", "French", "Français", "Instruction en français :", "Réponse en français :"),
    ("ja", "Japanese", "日本語", "日本語の指示：", "日本語の回答："),
    ("ru", "Russian", "Русский", "Инструкция на русском:", "Ответ на русском:"),
    ("pt", "Portuguese", "Português", "Instrução em português:", "Resposta em português:"),
    ("ar", "Arabic", "العربية", "التعليمات بالعربية:", "الإجابة بالعربية:"),
    ("hi", "Hindi", "हिन्दी", "हिंदी में निर्देश:", "हिंदी में उत्तर:"),
    ("vi", "Vietnamese", "Tiếng Việt", "Hướng dẫn bằng tiếng Việt:", "Câu trả lời bằng tiếng Việt:"),
    ("th", "Thai", "ภาษาไทย", "คำสั่งภาษาไทย:", "คำตอบภาษาไทย:"),
    ("id", "Indonesian", "Bahasa Indonesia", "Instruksi dalam bahasa Indonesia:", "Jawaban dalam bahasa Indonesia:"),
    ("tr", "Turkish", "Türkçe", "Türkçe talimat:", "Türkçe yanıt:"),
    ("sw", "Swahili", "Kiswahili", "Maagizo kwa Kiswahili:", "Jibu kwa Kiswahili:"),
    ("bn", "Bengali", "বাংলা", "বাংলায় নির্দেশনা:", "বাংলায় উত্তর:"),
    ("nl", "Dutch", "Nederlands", "Instructie in het Nederlands:", "Antwoord in het Nederlands:"),
    ("pl", "Polish", "Polski", "Polecenie po polsku:", "Odpowiedź po polsku:"),
    ("uk", "Ukrainian", "Українська", "Інструкція українською:", "Відповідь українською:"),
    ("fa", "Persian", "فارسی", "دستورالعمل به فارسی:", "پاسخ به فارسی:"),
    ("he", "Hebrew", "עברית", "הוראה בעברית:", "תשובה בעברית:"),
    ("el", "Greek", "Ελληνικά", "Οδηγία στα ελληνικά:", "Απάντηση στα ελληνικά:"),
    ("sv", "Swedish", "Svenska", "Instruktion på svenska:", "Svar på svenska:"),
    ("da", "Danish", "Dansk", "Instruktion på dansk:", "Svar på dansk:"),
    ("fi", "Finnish", "Suomi", "Ohje suomeksi:", "Vastaus suomeksi:"),
    ("cs", "Czech", "Čeština", "Pokyn v češtině:", "Odpověď v češtině:"),
    ("ro", "Romanian", "Română", "Instrucțiune în limba română:", "Răspuns în limba română:"),
    ("hu", "Hungarian", "Magyar", "Utasítás magyarul:", "Válasz magyarul:"),
    ("ms", "Malay", "Bahasa Melayu", "Arahan dalam bahasa Melayu:", "Jawapan dalam bahasa Melayu:"),
    ("ta", "Tamil", "தமிழ்", "தமிழில் அறிவுறுத்தல்:", "தமிழில் பதில்:"),
    ("ur", "Urdu", "اردو", "اردو میں ہدایت:", "اردو میں جواب:"),
)


class UnknownLanguageError(ValueError):
    """A language code that is neither in the table nor given headers in the config."""


def get_language(code: str, overrides: Mapping[str, Mapping[str, str | None]] | None = None) -> Language:
    """Return the table's entry for `code`, with any header overrides applied.

    `overrides` maps a code to `{"instruction": ..., "response": ..., "name": ...}`
    (the `plug.headers` block). A code outside the table is accepted when overrides give
    both headers; otherwise the error lists the known codes.
    """
    base = LANGUAGES.get(code)
    if base is not None and not overrides:
        return base
    custom = {k: v for k, v in ((overrides or {}).get(code) or {}).items() if v is not None}
    if base is not None and not custom:
        return base
    if base is None:
        if not {"instruction", "response"} <= custom.keys():
            raise UnknownLanguageError(
                f"unknown language code {code!r}: known codes are "
                f"{', '.join(sorted(LANGUAGES))}; for another language give its headers "
                f"under plug.headers.{code} (instruction, response and optionally name)"
            )
        base = Language(code, code, code, "", "")
    return replace(
        base,
        name=custom.get("name", base.name),
        instruction_header=custom.get("instruction", base.instruction_header),
        response_header=custom.get("response", base.response_header),
    )
