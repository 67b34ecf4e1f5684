"""Consent words in the languages exports come in: German, French, Spanish, Italian, Dutch, Portuguese,
and the commonest Swedish and Danish ones.

Why this exists: exports arrive with localized headers and values (Brevo's default attributes follow the
account's language; shops in these countries export from their own CRMs). Read with English words only,
``Newsletter abgemeldet`` ("newsletter unsubscribed") looked like a *weak* newsletter column, so ``ja``
(yes, unsubscribed) read as "no opt-out" — backwards. ``consent.py`` merges these words into its own.

Where the words come from: compiled by hand from the everyday words of each language for "(un)subscribed",
"bounced/invalid", "consent", "pending", "status", "newsletter", "date", "reason" (the words CRMs and shop
systems in these countries put in their column names and status values), not taken from a platform's
documentation; the lists are plain data here, easy to extend. Header patterns are matched against the
header with its accents stripped (``fold``), because exports lose them ("desinscrit", "desabonne"); value words are listed once
with their accents and ``spellings`` adds the accent-less forms.

The fail-closed rule decides what is left out: a word is here only if a mis-read can only make a person
*less* Active or stop the run. So "baja" (Spanish: unsubscription, but also "low") is an opt-out word in a
header and a status word (read as unsubscribed), but, like a bare "cancelado"/"cancellato" (an order's
state as often), not a suppression word that makes an unknown column a consent question; short prepositions ("am", "le", "op", "em", "il") mark an event only at the end of a
header ("Abgemeldet am").
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from types import MappingProxyType


def fold(text: str) -> str:
    """``text`` without its accents (``désabonné`` → ``desabonne``, ``situação`` → ``situacao``): what
    header patterns are matched against. Letters that do not decompose (``ß`` after casefold is ``ss``
    already; ``ø``, ``ł``) are kept."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


_GERMAN = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def spellings(word: str) -> set[str]:
    """The forms a value word arrives in: as written (composed), decomposed (macOS), without accents, and
    German umlauts written out (``ungültig`` → ``ungueltig``) — an export that lost its accents still
    reads the same."""
    nfc = unicodedata.normalize("NFC", word)
    return {nfc, unicodedata.normalize("NFD", nfc), fold(nfc), fold(nfc.translate(_GERMAN))}


def spelled(words: Iterable[str]) -> tuple[str, ...]:
    """Every spelling of ``words`` (see ``spellings``), in a stable order, each once."""
    out: dict[str, None] = {}
    for w in words:
        out[unicodedata.normalize("NFC", w)] = None
        out.update(dict.fromkeys(sorted(spellings(w))))
    return tuple(out)


TRUE_WORDS = ("wahr", "vrai", "verdadero", "vero", "sì", "waar", "sim", "verdadeiro", "sant", "sandt")
FALSE_WORDS = ("falsch", "faux", "falso", "nee", "onwaar", "não", "nao", "nej", "falskt", "falsk")
# cells of an event column that say the event never happened ("Abgemeldet am: nie")
NEVER_WORDS = ("nie", "niemals", "jamais", "nunca", "nooit", "aldrig")

# Status words, per language and status (cell values, lower case, accents as written).
STATUS_WORDS: Mapping[str, Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "de": {
            "subscribed": (
                "angemeldet",
                "abonniert",
                "aktiv",
                "bestätigt",
                "eingetragen",
                "opt in bestätigt",
            ),
            "unsubscribed": (
                "abgemeldet",
                "abbestellt",
                "ausgetragen",
                "abmeldung",
                "newsletter abgemeldet",
                "inaktiv",
                "gelöscht",
                "deaktiviert",
                "gesperrt",
                "blockiert",
                "widerrufen",
                "nicht mehr angemeldet",
            ),
            "cleaned": ("unzustellbar", "ungültig", "ungültige e mail", "zurückgewiesen", "hard bounce"),
            "pending": (
                "ausstehend",
                "unbestätigt",
                "nicht bestätigt",
                "wartet auf bestätigung",
                "bestätigung ausstehend",
            ),
            "no_consent": ("nicht angemeldet", "nie angemeldet", "keine einwilligung", "keine zustimmung"),
        },
        "fr": {
            "subscribed": ("abonné", "abonnée", "inscrit", "inscrite", "actif", "confirmé", "confirmée"),
            "unsubscribed": (
                "désabonné",
                "désabonnée",
                "désinscrit",
                "désinscrite",
                "désinscription",
                "désabonnement",
                "inactif",
                "supprimé",
                "supprimée",
                "désactivé",
                "désactivée",
                "bloqué",
                "bloquée",
                "blacklisté",
                "liste noire",
                "révoqué",
            ),
            "cleaned": (
                "rejeté",
                "rejetée",
                "invalide",
                "adresse invalide",
                "e mail invalide",
                "erreur permanente",
                "non distribuable",
                "plainte",
            ),
            "pending": ("en attente", "non confirmé", "non confirmée", "en attente de confirmation"),
            "no_consent": ("non abonné", "non abonnée", "non inscrit", "non inscrite", "sans consentement"),
        },
        "es": {
            "subscribed": (
                "suscrito",
                "suscrita",
                "activo",
                "activa",
                "confirmado",
                "confirmada",
                "dado de alta",
            ),
            "unsubscribed": (
                "dado de baja",
                "dada de baja",
                "de baja",
                "baja",
                "desuscrito",
                "desuscrita",
                "desinscrito",
                "desinscrita",
                "cancelado",
                "cancelada",
                "suscripción cancelada",
                "inactivo",
                "inactiva",
                "eliminado",
                "eliminada",
                "desactivado",
                "desactivada",
                "bloqueado",
                "bloqueada",
                "revocado",
            ),
            "cleaned": (
                "rebotado",
                "rebotada",
                "rebote",
                "inválido",
                "inválida",
                "correo inválido",
                "no entregable",
                "queja",
            ),
            "pending": ("pendiente", "sin confirmar", "no confirmado", "pendiente de confirmación"),
            "no_consent": ("no suscrito", "no suscrita", "sin consentimiento"),
        },
        "it": {
            "subscribed": ("iscritto", "iscritta", "attivo", "attiva", "confermato", "confermata"),
            "unsubscribed": (
                "disiscritto",
                "disiscritta",
                "cancellato",
                "cancellata",
                "disattivato",
                "disattivata",
                "inattivo",
                "inattiva",
                "bloccato",
                "bloccata",
                "revocato",
            ),
            "cleaned": (
                "rimbalzato",
                "rimbalzata",
                "non valido",
                "non valida",
                "non recapitabile",
                "reclamo",
            ),
            "pending": ("in attesa", "non confermato", "non confermata", "da confermare"),
            "no_consent": ("non iscritto", "non iscritta", "nessun consenso"),
        },
        "nl": {
            "subscribed": ("ingeschreven", "aangemeld", "geabonneerd", "actief", "bevestigd"),
            "unsubscribed": (
                "afgemeld",
                "uitgeschreven",
                "opgezegd",
                "inactief",
                "verwijderd",
                "gedeactiveerd",
                "geblokkeerd",
                "ingetrokken",
            ),
            "cleaned": ("gebounced", "gebouncet", "onbestelbaar", "ongeldig", "klacht"),
            "pending": ("in afwachting", "onbevestigd", "niet bevestigd", "wacht op bevestiging"),
            "no_consent": ("niet ingeschreven", "geen toestemming"),
        },
        "pt": {
            "subscribed": ("inscrito", "inscrita", "ativo", "ativa", "assinante", "confirmado", "confirmada"),
            "unsubscribed": (
                "descadastrado",
                "descadastrada",
                "desinscrito",
                "desinscrita",
                "cancelou",
                "cancelado",
                "cancelada",
                "inativo",
                "inativa",
                "excluído",
                "excluída",
                "desativado",
                "desativada",
                "bloqueado",
                "bloqueada",
                "revogado",
            ),
            "cleaned": ("rejeitado", "rejeitada", "inválido", "inválida", "e mail inválido", "devolvido"),
            "pending": ("pendente", "não confirmado", "aguardando confirmação"),
            "no_consent": ("não inscrito", "não inscrita", "sem consentimento"),
        },
        "sv": {
            "subscribed": ("prenumererar", "aktiv"),
            "unsubscribed": ("avregistrerad", "avprenumererad", "avanmäld"),
            "cleaned": ("ogiltig",),
            "pending": ("väntande", "obekräftad"),
            "no_consent": (),
        },
        "da": {
            "subscribed": ("tilmeldt", "aktiv"),
            "unsubscribed": ("afmeldt", "frameldt"),
            "cleaned": ("ugyldig",),
            "pending": ("afventer", "ubekræftet"),
            "no_consent": (),
        },
    }
)

# Value words that make an otherwise unremarkable column worth a question: only words that never name an
# order's, an account's or a record's state ("cancelado", "inaktiv", "gelöscht", "baja" do, so they are not
# here; "ausgetragen" is also "delivered"/"held").
SUPPRESSION_WORDS = (
    "abgemeldet",
    "abbestellt",
    "newsletter abgemeldet",
    "unzustellbar",
    "désabonné",
    "désabonnée",
    "désinscrit",
    "désinscrite",
    "dado de baja",
    "dada de baja",
    "desuscrito",
    "desuscrita",
    "rebotado",
    "rebotada",
    "disiscritto",
    "disiscritta",
    "afgemeld",
    "uitgeschreven",
    "gebounced",
    "onbestelbaar",
    "descadastrado",
    "descadastrada",
    "avregistrerad",
    "afmeldt",
)


def _any(*alternatives: str) -> str:
    return "|".join(alternatives)


# Header patterns (regex alternations over the accent-folded, lower-case words of a header, joined by one
# space). German compounds ("Newsletterabmeldung", "Abmeldedatum") are matched inside words.
UNSUB = _any(
    # de
    r"abgemeldet",
    r"\w*abmeld\w*",
    r"\w*abbestell\w*",
    r"ausgetragen",
    r"\w*austragung",
    r"widerrufen|widerspruch",
    r"(einwilligungs|werbe|newsletter)(widerruf|widerspruch)",
    r"(widerruf|widerspruch) (der |zur |gegen |gegen die )?(einwilligung|zustimmung|werbung|newsletter)",
    r"werbesperre",
    r"sperrliste",
    r"keine? (e ?mails?|werbung|newsletter|werbe ?e ?mails?)",
    # fr
    r"desabonn\w*",
    r"desinscri\w*",
    r"blackliste(e|s|es)?",
    r"liste noire",
    r"ne (pas|plus) (contacter|envoyer|solliciter|recevoir)",
    r"(pas|plus) de (e ?mails?|publicite|newsletter|prospection)",
    # es
    r"dad[oa] de baja",
    r"baja",
    r"desuscri\w*",
    r"desinscrit[oa]s?",
    r"(suscripcion|inscripcion) cancelada",
    r"cancelacion( de( la)?)? suscripcion",
    r"no (enviar|contactar|molestar)",
    r"lista negra",
    r"sin (e ?mails?|publicidad)",
    # it
    r"disiscri\w*",
    r"cancellazione",
    r"revoca( del)? consenso",
    r"non (contattare|inviare)",
    r"lista nera",
    # nl
    r"afgemeld",
    r"\w*afmeld\w*",
    r"uitgeschreven",
    r"uitschrijv\w*",
    r"niet (mailen|benaderen|contacteren)",
    r"zwarte lijst",
    r"geen (e ?mails?|reclame|nieuwsbrief)",
    # pt
    r"descadastr\w*",
    r"cancelou",
    r"(inscricao|assinatura) cancelada",
    r"cancelamento( da)? (inscricao|assinatura)",
    r"nao (enviar|contatar|contactar)",
    r"sem (e ?mails?|publicidade)",
    # sv, da
    r"avregistrer\w*",
    r"avprenumer\w*",
    r"avanmal\w*",
    r"afmeldt",
    r"afmelding\w*",
    r"frameld\w*",
)
CLEAN = _any(
    r"\w*bounce\w*",
    r"\w*unzustellbar\w*",
    r"ung(u|ue)ltig\w*",
    r"zur(u|ue)ckgewiesen",
    r"rejete(e|s|es)?",
    r"invalide",
    r"erreur permanente",
    r"non distribuable",
    r"rebot\w*",
    r"(correo|e ?mail|direccion) (invalid[oa]|no valid[oa])",
    r"no entregable",
    r"rimbalz\w*",
    r"(e ?mail|indirizzo) non valid[oa]",
    r"non recapitabile",
    r"gebounce[dt]",
    r"onbestelbaar",
    r"ongeldig\w*",
    r"rejeitad[oa]",
    r"(e ?mail|endereco) invalid[oa]",
    r"ogiltig",
    r"ugyldig",
)
EVENT = _any(
    r"\w*datum|zeitpunkt|\w+zeitpunkt|seit|grund|\w+grund|zeit|\w+zeit|uhrzeit|wann|zeitstempel",
    r"date|raison|motif|heure|depuis|quand|horodatage",
    r"fecha|motivo|hora|desde|razon|cuando|causa",
    r"data|ora|ragione|quando",
    r"tijd|tijdstip|\w+tijd|sinds|reden|wanneer",
    r"razao",
    r"dato|tid|orsak|arsag|sedan|siden",
)
# short prepositions that mark a time only as a header's last word ("Abgemeldet am", "Désabonné le")
EVENT_LAST = _any("am", "le", "op", "em", "il", "dal", "el", "den")
POSITIVE = _any(
    # de
    r"angemeldet|abonniert|eingetragen|\w*anmeldung|einwilligung\w*|\w+einwilligung|eingewilligt",
    r"zustimmung\w*|\w+zustimmung|zugestimmt|werbeerlaubnis",
    r"(e ?mail|werbung|newsletter) (erlaubt|erwunscht|gewunscht)",
    # fr
    r"abonnee?s?|inscrite?s?|inscription|consentement\w*|consenti|accepte(e|s)?|autorise\w*",
    r"souhaite recevoir|recevoir (les )?(e ?mails?|newsletter|offres|communications)",
    # es
    r"suscrit[oa]s?|suscripcion|consentimiento|consiente|acepta\w*|autoriza\w*|desea recibir",
    r"recibir (correos|e ?mails?|boletin|publicidad|comunicaciones)",
    # it
    r"iscritt[oaie]|iscrizione|consenso|acconsente|accetta\w*|autorizza\w*",
    # nl
    r"ingeschreven|aangemeld|geabonneerd|inschrijving|toestemming|akkoord",
    r"(nieuwsbrief|e ?mails?|mailing) ontvangen",
    # pt
    r"inscrit[oa]s?|inscricao|consentimento|consente|aceita\w*|aceite|assinante",
    r"deseja receber|receber (e ?mails?|newsletter|comunicacoes|novidades)",
    # sv, da
    r"prenumererar|prenumeration|samtycke|godkanner|tilmeldt|samtykke|accepterer",
)
# positive names that say a consent was *given* (so a "no" there is no_consent, not an unsubscribe)
GAVE = _any(
    r"einwillig\w*|\w+einwilligung|eingewilligt|zustimm\w*|\w+zustimmung|zugestimmt|erlaubt|erwunscht",
    r"gewunscht|werbeerlaubnis|consent\w*|accept\w*|acept\w*|accett\w*|autoris\w*|autoriz\w*|autorizz\w*|souhaite|desea",
    r"deseja|recevoir|recibir|receber|consiente|consenso|acconsente|toestemming|akkoord|ontvangen|aceit\w*",
    r"samtycke|samtykke|godkanner",
)
POSITIVE_EVENT = _any(
    r"angemeldet|\w*anmeld\w*|einwillig\w*|\w+einwilligung|zustimm\w*|bestatig\w*|abonniert",
    r"abonne\w*|inscri\w*|consenti\w*|confirm\w*|suscri\w*|iscri\w*|consenso|conferm\w*",
    r"ingeschreven|aangemeld\w*|aanmeld\w*|inschrijving|toestemming|bevestig\w*|assinante",
    r"samtyck\w*|samtykke|prenumer\w*|tilmeld\w*",
)
STATUS_NAMES = _any(
    r"statut|etat|estado|stato|situacao",
    r"(abonnement|abonnements|abo|newsletter|anmelde|einwilligungs|kontakt|mitglieds|empfanger)s? ?status",
    r"status (des |der )?(abonnements?|newsletters?)",
    r"abonnement|abbonamento|suscripcion",
    r"(statut|etat)( (de|du|d))?( (l|la|le))? (abonnement|inscription|e ?mail|courriel|newsletter|"
    r"infolettre|consentement|contact|marketing)",
    r"estado( (de|del))?( (la|el))? (suscripcion|e ?mail|correo|contacto|consentimiento|boletin|"
    r"newsletter|marketing)",
    r"stato( (di|del|dell|della))? (iscrizione|abbonamento|e ?mail|contatto|consenso|newsletter|marketing)",
    r"(abonnements?|inschrijvings?|nieuwsbrief|e ?mail)s? ?status",
    r"status (van )?(de |het )?(inschrijving|abonnement|nieuwsbrief)",
    r"(situacao|estado|status)( (da|do|de))? (inscricao|assinatura|cadastro|e ?mail|contato)",
    r"prenumerationsstatus",
)
WEAK = _any(
    r"newsletter\w*|\w+newsletter|werbung|(e ?mail|post|newsletter)werbung|werbe ?e ?mails?|werbepost",
    r"infopost|rundbrief",
    r"lettre d (information|info|actualites)|infolettre|offres (commerciales|promotionnelles|partenaires)",
    r"publicite|prospection( commerciale)?",
    r"boletin(es)?|publicidad|promociones|comunicaciones( comerciales)?",
    r"comunicazioni( commerciali)?|promozioni|pubblicita",
    r"nieuwsbrie(f|ven)|reclame|communicatie",
    r"boletim|informativo|publicidade|promocoes|comunicacoes( comerciais)?",
    r"nyhetsbrev|nyhedsbrev",
)
METADATA = _any(
    r"\w*quelle|\w*formular|sprache|kanal|kampagne|titel|anzahl|geandert|aktualisiert|erstellt|methode",
    r"telefon|handy|typ",
    r"source|formulaire|langue|canal|campagne|titre|lien|modifie|cree|telephone|portable",
    r"fuente|origen|formulario|idioma|campana|titulo|enlace|cantidad|modificado|actualizado|creado|metodo",
    r"telefono|movil|celular|tipo",
    r"fonte|origine|modulo|lingua|canale|campagna|titolo|modificato|aggiornato|creato",
    r"bron|formulier|taal|kanaal|aantal|gewijzigd|bijgewerkt|aangemaakt|telefoon|mobiel",
    r"origem|campanha|atualizado|criado|telefone",
)
# a negation right before a consent or newsletter word ("Nicht angemeldet", "Keine Einwilligung",
# "Pas de newsletter", "No acepta"): the name says the opposite of the word
NEGATION = _any(
    r"nicht|kein|keine|keinen|keiner|nie|non|pas|ne|no|not|never|sin|niet|geen|nooit|nao|sem|nunca|senza",
    r"nessun|nessuna|nessuno|ej|inte|ikke|aldrig",
)
NEGATION_FILLER = _any(
    r"de|d|la|le|les|l|des|du|mehr|plus|more|longer|mas|piu|meer|mais|zur|zum|der|die|das|di|del|della|van",
    r"het|da|do|in|il|al|a|any|to|want|wants|wish|desea|deseja|souhaite|wil|wollen|mochte",
)


def vocabulary() -> dict[str, str]:
    """Every language's status words (all their spellings) → status. A word two languages read differently
    would be a contradiction; ``tests/unit/test_consent_languages.py`` checks there is none."""
    out: dict[str, str] = {}
    for by_status in STATUS_WORDS.values():
        for status, ws in by_status.items():
            out.update(dict.fromkeys(spelled(ws), status))
    return out
