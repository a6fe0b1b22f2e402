//! The hosted pages' message catalogue: every string a person reads on them, in each language
//! ovlt speaks (decision 0014). A language is a [`Texts`] value, so a string missing from one
//! language is a compile error, not an English word on a German page. Sentences with a value in
//! them hold one `{}`, filled by [`fill`] (the value is escaped with the rest when rendered).

use axum::http::{HeaderMap, header};

use crate::users::PasswordProblem;

/// The languages of the hosted pages, as advertised in discovery (`ui_locales_supported`).
pub const SUPPORTED: &[&str] = &["en", "de"];

/// The page language for a request: the first supported language of OIDC's `ui_locales` (space-
/// separated, in order of preference), else of the browser's `Accept-Language`, else English.
/// Only a language's primary subtag counts (`de-AT` reads as `de`).
pub fn choose(ui_locales: Option<&str>, headers: &HeaderMap) -> &'static Texts {
    // Both are bounded before they are read: a page's language is not worth parsing a long header.
    let requested = ui_locales.unwrap_or_default().split_ascii_whitespace().take(8);
    if let Some(texts) = requested.filter_map(by_tag).next() {
        return texts;
    }
    let accepted = headers.get(header::ACCEPT_LANGUAGE).and_then(|value| value.to_str().ok()).unwrap_or_default();
    let accepted = accepted.get(..256).unwrap_or(accepted);
    accept_language::parse(accepted).iter().filter_map(|tag| by_tag(tag)).next().unwrap_or(&EN)
}

fn by_tag(tag: &str) -> Option<&'static Texts> {
    let primary = tag.split(['-', '_']).next().unwrap_or_default();
    match primary.to_ascii_lowercase().as_str() {
        "en" => Some(&EN),
        "de" => Some(&DE),
        _ => None,
    }
}

/// A catalogue sentence with its one `{}` filled in.
pub fn fill(sentence: &str, value: impl std::fmt::Display) -> String {
    sentence.replacen("{}", &value.to_string(), 1)
}

impl Texts {
    /// What a standard scope lets the application do, in words a person can judge.
    pub fn scope(&self, scope: &str) -> String {
        match scope {
            "openid" => self.scope_openid,
            "profile" => self.scope_profile,
            "email" => self.scope_email,
            "offline_access" => self.scope_offline_access,
            other => other,
        }
        .to_string()
    }

    /// Why a new password is refused.
    pub fn password_problem(&self, problem: PasswordProblem) -> String {
        match problem {
            PasswordProblem::TooShort { min } => fill(self.password_too_short, min),
            PasswordProblem::TooLong => self.password_too_long.to_string(),
            PasswordProblem::TooFewKinds { min } => fill(self.password_too_few_kinds, min),
            PasswordProblem::IsTheEmail => self.password_is_the_email.to_string(),
            PasswordProblem::UsedBefore { remembered } => fill(self.password_used_before, remembered),
        }
    }
}

/// One language's strings. Grouped by page; the shared ones first.
pub struct Texts {
    /// The `lang` of the pages' `<html>`.
    pub lang: &'static str,

    pub email: &'static str,
    pub password: &'static str,
    pub sign_in: &'static str,
    pub to_continue_to: &'static str,
    pub back_to_sign_in: &'static str,
    pub form_expired: &'static str,
    pub form_expired_sign_in_again: &'static str,
    pub sign_in_expired: &'static str,
    pub too_busy: &'static str,
    pub code: &'static str,
    pub verify: &'static str,

    // Error pages.
    pub go_back_and_retry: &'static str,
    pub invalid_request: &'static str,
    pub invalid_logout_request: &'static str,
    pub form_expired_title: &'static str,
    pub no_client: &'static str,
    pub unknown_client: &'static str,
    pub no_redirect_uri: &'static str,
    pub unregistered_redirect_uri: &'static str,
    pub foreign_id_token_hint: &'static str,
    pub unknown_organisation_title: &'static str,
    pub unknown_organisation: &'static str,
    pub too_many_attempts_title: &'static str,
    pub network_rate_limited: &'static str,

    // Sign-in.
    pub forgot_password: &'static str,
    pub new_here: &'static str,
    pub create_an_account: &'static str,
    pub enter_email_and_password: &'static str,
    pub too_many_attempts: &'static str,
    pub incorrect_credentials: &'static str,
    pub account_suspended: &'static str,
    pub verify_before_sign_in: &'static str,
    pub password_is_too_long: &'static str,
    pub too_many_sign_ins: &'static str,

    // Sign-up and its email verification.
    pub name_optional: &'static str,
    pub create_account: &'static str,
    pub have_an_account: &'static str,
    pub enter_valid_email: &'static str,
    pub name_refused: &'static str,
    pub address_taken: &'static str,
    pub sign_up_closed_title: &'static str,
    pub sign_up_closed: &'static str,
    pub verify_email_title: &'static str,
    pub code_sent_to: &'static str,
    pub code_wrong_or_expired: &'static str,
    pub email_verified: &'static str,
    pub new_code_sent: &'static str,

    // The second factor and its enrolment.
    pub two_step_title: &'static str,
    pub authenticator_code: &'static str,
    pub use_backup_code: &'static str,
    pub enter_authenticator_code: &'static str,
    pub code_wrong_or_used: &'static str,
    pub set_up_two_step_title: &'static str,
    pub set_up_two_step_explained: &'static str,
    pub qr_code_alt: &'static str,
    pub key: &'static str,
    pub six_digits_label: &'static str,
    pub turn_on: &'static str,
    pub enter_six_digits: &'static str,
    pub code_wrong: &'static str,
    pub backup_codes_title: &'static str,
    pub two_step_is_on: &'static str,
    pub backup_codes_explained: &'static str,
    pub continue_to: &'static str,

    // Consent.
    pub allow_access_title: &'static str,
    pub wants_access: &'static str,
    pub signed_in_as: &'static str,
    pub not_you: &'static str,
    pub sign_in_as_someone_else: &'static str,
    pub asks_to: &'static str,
    pub sent_back_to: &'static str,
    pub allow: &'static str,
    pub deny: &'static str,
    pub choose_allow_or_deny: &'static str,
    pub scope_openid: &'static str,
    pub scope_profile: &'static str,
    pub scope_email: &'static str,
    pub scope_offline_access: &'static str,

    // Sign-out.
    pub sign_out: &'static str,
    pub sign_out_question: &'static str,
    pub signed_out_of: &'static str,
    pub signed_out_title: &'static str,
    pub you_are_signed_out: &'static str,
    pub close_this_window: &'static str,

    // Password recovery.
    pub reset_password_title: &'static str,
    pub reset_link_sent: &'static str,
    pub email_me_a_link: &'static str,
    pub enter_account_email: &'static str,
    pub new_password_title: &'static str,
    pub new_password: &'static str,
    pub new_password_again: &'static str,
    pub save_password: &'static str,
    pub other_devices_sign_in_again: &'static str,
    pub same_password_twice: &'static str,
    pub reset_link_expired_title: &'static str,
    pub reset_link_expired: &'static str,
    pub password_changed_title: &'static str,
    pub password_changed: &'static str,
    pub sign_in_from_the_application: &'static str,

    // Signing in through an identity provider.
    pub continue_with: &'static str,
    pub federation_failed_title: &'static str,
    pub federation_expired: &'static str,
    pub federation_other_browser: &'static str,
    pub provider_unavailable: &'static str,
    pub upstream_cancelled: &'static str,
    pub upstream_failed: &'static str,
    pub upstream_no_email: &'static str,
    pub upstream_unverified_email: &'static str,
    pub upstream_existing_account: &'static str,
    pub unregistered_redirect_to: &'static str,
    pub invalid_app_binding: &'static str,

    pub link_account_title: &'static str,
    pub account_uses_address: &'static str,
    pub prove_to_link: &'static str,
    pub link_and_continue: &'static str,

    // A refused new password.
    pub password_too_short: &'static str,
    pub password_too_long: &'static str,
    pub password_too_few_kinds: &'static str,
    pub password_is_the_email: &'static str,
    pub password_used_before: &'static str,
}

pub static EN: Texts = Texts {
    lang: "en",

    email: "Email",
    password: "Password",
    sign_in: "Sign in",
    to_continue_to: "to continue to {}",
    back_to_sign_in: "Back to sign in",
    form_expired: "This form has expired. Please try again.",
    form_expired_sign_in_again: "This form has expired. Please sign in again.",
    sign_in_expired: "Your sign-in expired. Please sign in again.",
    too_busy: "Too many requests right now. Try again in a moment.",
    code: "Code",
    verify: "Verify",

    go_back_and_retry: "Go back to the application you came from and try again.",
    invalid_request: "Invalid request",
    invalid_logout_request: "Invalid logout request",
    form_expired_title: "Form expired",
    no_client: "The request names no client.",
    unknown_client: "The application is unknown or no longer active.",
    no_redirect_uri: "The request names no redirect URI.",
    unregistered_redirect_uri: "The redirect URI is not registered for this application.",
    foreign_id_token_hint: "The id_token_hint is not an ID token issued here.",
    unknown_organisation_title: "Unknown organisation",
    unknown_organisation: "This link names no organisation we know.",
    too_many_attempts_title: "Too many attempts",
    network_rate_limited: "Too many requests came from your network. Please wait a minute and try again.",

    forgot_password: "Forgot your password?",
    new_here: "New here?",
    create_an_account: "Create an account",
    enter_email_and_password: "Enter your email and password.",
    too_many_attempts: "Too many attempts. Try again in {} minutes.",
    incorrect_credentials: "Incorrect email or password.",
    account_suspended: "This account is suspended.",
    verify_before_sign_in: "Verify your email address before signing in.",
    password_is_too_long: "That password is too long.",
    too_many_sign_ins: "Too many sign-ins right now. Try again in a moment.",

    name_optional: "Name (optional)",
    create_account: "Create account",
    have_an_account: "Already have an account?",
    enter_valid_email: "Enter a valid email address.",
    name_refused: "The name must be at most 200 characters, without control characters.",
    address_taken: "An account already uses this address. Sign in instead.",
    sign_up_closed_title: "Sign-up is closed",
    sign_up_closed: "This organisation does not let people create their own accounts. Ask its administrator for one.",
    verify_email_title: "Verify your email",
    code_sent_to: "We have sent a code to {}. Enter it here; then sign in with your new password.",
    code_wrong_or_expired: "That code is wrong or has expired.",
    email_verified: "Your email address is verified. Sign in with your new password.",
    new_code_sent: "Verify your email address first: we have sent you a new code.",

    two_step_title: "Two-step verification",
    authenticator_code: "Code from your authenticator app",
    use_backup_code: "No access to your app? Enter one of your backup codes instead.",
    enter_authenticator_code: "Enter the code from your authenticator app.",
    code_wrong_or_used: "That code is not right, or was already used. Try the current one.",
    set_up_two_step_title: "Set up two-step verification",
    set_up_two_step_explained: "{} asks for a code from an authenticator app at each sign-in. Scan this code with \
                                the app, or enter the key by hand.",
    qr_code_alt: "QR code of the authenticator key",
    key: "Key:",
    six_digits_label: "The six digits the app shows",
    turn_on: "Turn on",
    enter_six_digits: "Enter the six digits your authenticator app shows.",
    code_wrong: "That code is not right. Try the current one.",
    backup_codes_title: "Your backup codes",
    two_step_is_on: "Two-step verification is on",
    backup_codes_explained: "Keep these backup codes somewhere safe. Each one signs you in once if your \
                             authenticator app is not at hand. They are shown only now.",
    continue_to: "Continue to {}",

    allow_access_title: "Allow access",
    wants_access: "{} wants access",
    signed_in_as: "Signed in as {}",
    not_you: "Not you?",
    sign_in_as_someone_else: "Sign in as someone else",
    asks_to: "{} asks to:",
    sent_back_to: "Either way, you will be sent back to {}.",
    allow: "Allow",
    deny: "Deny",
    choose_allow_or_deny: "Choose Allow or Deny.",
    scope_openid: "Confirm who you are",
    scope_profile: "See your name",
    scope_email: "See your email address",
    scope_offline_access: "Stay signed in when you are away",

    sign_out: "Sign out",
    sign_out_question: "Sign out?",
    signed_out_of: "You will be signed out of {}.",
    signed_out_title: "Signed out",
    you_are_signed_out: "You are signed out",
    close_this_window: "You can close this window.",

    reset_password_title: "Reset your password",
    reset_link_sent: "If an account uses that address, we have sent it a link to choose a new password. The link \
                      works once, for a short time.",
    email_me_a_link: "Email me a link",
    enter_account_email: "Enter the email address of your account.",
    new_password_title: "Choose a new password",
    new_password: "New password",
    new_password_again: "New password again",
    save_password: "Save password",
    other_devices_sign_in_again: "Signing in again on your other devices will be needed.",
    same_password_twice: "Enter the same new password twice.",
    reset_link_expired_title: "Link expired",
    reset_link_expired: "This reset link has expired or was already used. Ask for a new one from the sign-in page.",
    password_changed_title: "Password changed",
    password_changed: "Your {} password has been changed, and every session signed in with the old one has ended.",
    sign_in_from_the_application: "Sign in again from the application.",

    continue_with: "Continue with {}",
    federation_failed_title: "Sign-in failed",
    federation_expired: "This sign-in has expired or was already completed. Please start again.",
    federation_other_browser: "This sign-in was started in another browser. Please start again here.",
    provider_unavailable: "This way of signing in is not available.",
    upstream_cancelled: "The sign-in was cancelled at {}.",
    upstream_failed: "{} could not confirm who you are. Please try again later.",
    upstream_no_email: "{} did not tell us an email address, and an account here needs one.",
    upstream_unverified_email: "An account here already uses this address, and {} has not confirmed that it is yours.",
    upstream_existing_account: "An account here already uses this address. Sign in with its password instead.",
    unregistered_redirect_to: "The application asked to return to an address it has not registered.",
    invalid_app_binding: "The application's state or code_challenge is not valid.",

    link_account_title: "Link your account",
    account_uses_address: "An account here already uses {}.",
    prove_to_link: "Enter its password to link it to your sign-in with {}.",
    link_and_continue: "Link and continue",

    password_too_short: "The password must be at least {} characters.",
    password_too_long: "The password must be at most 128 characters.",
    password_too_few_kinds: "The password must mix at least {} kinds of character (lower case, upper case, \
                             digits, symbols).",
    password_is_the_email: "The password must not be the email address.",
    password_used_before: "The password must differ from your last {} passwords.",
};

pub static DE: Texts = Texts {
    lang: "de",

    email: "E-Mail",
    password: "Passwort",
    sign_in: "Anmelden",
    to_continue_to: "weiter zu {}",
    back_to_sign_in: "Zurück zur Anmeldung",
    form_expired: "Dieses Formular ist abgelaufen. Bitte versuchen Sie es erneut.",
    form_expired_sign_in_again: "Dieses Formular ist abgelaufen. Bitte melden Sie sich erneut an.",
    sign_in_expired: "Ihre Anmeldung ist abgelaufen. Bitte melden Sie sich erneut an.",
    too_busy: "Gerade gibt es zu viele Anfragen. Bitte versuchen Sie es gleich noch einmal.",
    code: "Code",
    verify: "Bestätigen",

    go_back_and_retry: "Kehren Sie zu der Anwendung zurück, von der Sie kamen, und versuchen Sie es erneut.",
    invalid_request: "Ungültige Anfrage",
    invalid_logout_request: "Ungültige Abmeldeanfrage",
    form_expired_title: "Formular abgelaufen",
    no_client: "Die Anfrage nennt keine Anwendung.",
    unknown_client: "Die Anwendung ist unbekannt oder nicht mehr aktiv.",
    no_redirect_uri: "Die Anfrage nennt keine Weiterleitungsadresse.",
    unregistered_redirect_uri: "Diese Weiterleitungsadresse ist für die Anwendung nicht registriert.",
    foreign_id_token_hint: "Der id_token_hint ist kein hier ausgestelltes ID-Token.",
    unknown_organisation_title: "Unbekannte Organisation",
    unknown_organisation: "Dieser Link nennt keine Organisation, die wir kennen.",
    too_many_attempts_title: "Zu viele Versuche",
    network_rate_limited: "Aus Ihrem Netzwerk kamen zu viele Anfragen. Bitte warten Sie eine Minute und versuchen \
                           Sie es erneut.",

    forgot_password: "Passwort vergessen?",
    new_here: "Neu hier?",
    create_an_account: "Konto erstellen",
    enter_email_and_password: "Geben Sie Ihre E-Mail-Adresse und Ihr Passwort ein.",
    too_many_attempts: "Zu viele Versuche. Versuchen Sie es in {} Minuten erneut.",
    incorrect_credentials: "E-Mail-Adresse oder Passwort ist falsch.",
    account_suspended: "Dieses Konto ist gesperrt.",
    verify_before_sign_in: "Bestätigen Sie Ihre E-Mail-Adresse, bevor Sie sich anmelden.",
    password_is_too_long: "Dieses Passwort ist zu lang.",
    too_many_sign_ins: "Gerade melden sich zu viele an. Bitte versuchen Sie es gleich noch einmal.",

    name_optional: "Name (freiwillig)",
    create_account: "Konto erstellen",
    have_an_account: "Sie haben schon ein Konto?",
    enter_valid_email: "Geben Sie eine gültige E-Mail-Adresse ein.",
    name_refused: "Der Name darf höchstens 200 Zeichen lang sein und keine Steuerzeichen enthalten.",
    address_taken: "Zu dieser Adresse gibt es schon ein Konto. Melden Sie sich stattdessen an.",
    sign_up_closed_title: "Registrierung geschlossen",
    sign_up_closed: "Bei dieser Organisation kann man sich kein eigenes Konto anlegen. Bitten Sie ihre \
                     Administration um eines.",
    verify_email_title: "E-Mail-Adresse bestätigen",
    code_sent_to: "Wir haben einen Code an {} gesendet. Geben Sie ihn hier ein und melden Sie sich dann mit Ihrem \
                   neuen Passwort an.",
    code_wrong_or_expired: "Dieser Code ist falsch oder abgelaufen.",
    email_verified: "Ihre E-Mail-Adresse ist bestätigt. Melden Sie sich mit Ihrem neuen Passwort an.",
    new_code_sent: "Bestätigen Sie zuerst Ihre E-Mail-Adresse: Wir haben Ihnen einen neuen Code gesendet.",

    two_step_title: "Bestätigung in zwei Schritten",
    authenticator_code: "Code aus Ihrer Authenticator-App",
    use_backup_code: "Kein Zugriff auf Ihre App? Geben Sie stattdessen einen Ihrer Backup-Codes ein.",
    enter_authenticator_code: "Geben Sie den Code aus Ihrer Authenticator-App ein.",
    code_wrong_or_used: "Dieser Code stimmt nicht oder wurde schon verwendet. Versuchen Sie den aktuellen.",
    set_up_two_step_title: "Bestätigung in zwei Schritten einrichten",
    set_up_two_step_explained: "{} verlangt bei jeder Anmeldung einen Code aus einer Authenticator-App. Scannen \
                                Sie diesen Code mit der App oder geben Sie den Schlüssel von Hand ein.",
    qr_code_alt: "QR-Code des Authenticator-Schlüssels",
    key: "Schlüssel:",
    six_digits_label: "Die sechs Ziffern, die die App zeigt",
    turn_on: "Einschalten",
    enter_six_digits: "Geben Sie die sechs Ziffern ein, die Ihre Authenticator-App zeigt.",
    code_wrong: "Dieser Code stimmt nicht. Versuchen Sie den aktuellen.",
    backup_codes_title: "Ihre Backup-Codes",
    two_step_is_on: "Die Bestätigung in zwei Schritten ist eingeschaltet",
    backup_codes_explained: "Bewahren Sie diese Backup-Codes sicher auf. Jeder meldet Sie einmal an, wenn Ihre \
                             Authenticator-App nicht zur Hand ist. Sie werden nur jetzt angezeigt.",
    continue_to: "Weiter zu {}",

    allow_access_title: "Zugriff erlauben",
    wants_access: "{} bittet um Zugriff",
    signed_in_as: "Angemeldet als {}",
    not_you: "Nicht Sie?",
    sign_in_as_someone_else: "Als jemand anderes anmelden",
    asks_to: "{} möchte:",
    sent_back_to: "In beiden Fällen werden Sie zu {} zurückgeleitet.",
    allow: "Erlauben",
    deny: "Ablehnen",
    choose_allow_or_deny: "Wählen Sie Erlauben oder Ablehnen.",
    scope_openid: "Bestätigen, wer Sie sind",
    scope_profile: "Ihren Namen sehen",
    scope_email: "Ihre E-Mail-Adresse sehen",
    scope_offline_access: "Angemeldet bleiben, während Sie nicht da sind",

    sign_out: "Abmelden",
    sign_out_question: "Abmelden?",
    signed_out_of: "Sie werden von {} abgemeldet.",
    signed_out_title: "Abgemeldet",
    you_are_signed_out: "Sie sind abgemeldet",
    close_this_window: "Sie können dieses Fenster schließen.",

    reset_password_title: "Passwort zurücksetzen",
    reset_link_sent: "Falls ein Konto diese Adresse verwendet, haben wir einen Link gesendet, mit dem Sie ein neues \
                      Passwort wählen können. Der Link funktioniert einmal und nur kurze Zeit.",
    email_me_a_link: "Link per E-Mail senden",
    enter_account_email: "Geben Sie die E-Mail-Adresse Ihres Kontos ein.",
    new_password_title: "Neues Passwort wählen",
    new_password: "Neues Passwort",
    new_password_again: "Neues Passwort wiederholen",
    save_password: "Passwort speichern",
    other_devices_sign_in_again: "Auf Ihren anderen Geräten müssen Sie sich danach erneut anmelden.",
    same_password_twice: "Geben Sie zweimal dasselbe neue Passwort ein.",
    reset_link_expired_title: "Link abgelaufen",
    reset_link_expired: "Dieser Link ist abgelaufen oder wurde schon verwendet. Fordern Sie auf der Anmeldeseite \
                         einen neuen an.",
    password_changed_title: "Passwort geändert",
    password_changed: "Ihr Passwort für {} wurde geändert, und jede mit dem alten Passwort angemeldete Sitzung ist \
                       beendet.",
    sign_in_from_the_application: "Melden Sie sich über die Anwendung erneut an.",

    continue_with: "Weiter mit {}",
    federation_failed_title: "Anmeldung fehlgeschlagen",
    federation_expired: "Diese Anmeldung ist abgelaufen oder wurde schon abgeschlossen. Bitte beginnen Sie von vorn.",
    federation_other_browser: "Diese Anmeldung wurde in einem anderen Browser begonnen. Bitte beginnen Sie hier von vorn.",
    provider_unavailable: "Diese Anmeldemethode ist nicht verfügbar.",
    upstream_cancelled: "Die Anmeldung wurde bei {} abgebrochen.",
    upstream_failed: "{} konnte nicht bestätigen, wer Sie sind. Bitte versuchen Sie es später erneut.",
    upstream_no_email: "{} hat uns keine E-Mail-Adresse genannt, und ein Konto hier braucht eine.",
    upstream_unverified_email: "Ein Konto hier verwendet diese Adresse schon, und {} hat nicht bestätigt, dass sie Ihnen gehört.",
    upstream_existing_account: "Ein Konto hier verwendet diese Adresse schon. Melden Sie sich stattdessen mit seinem Passwort an.",
    unregistered_redirect_to: "Die Anwendung wollte zu einer Adresse zurückkehren, die sie nicht registriert hat.",
    invalid_app_binding: "Der state oder die code_challenge der Anwendung ist ungültig.",

    link_account_title: "Konto verknüpfen",
    account_uses_address: "Ein Konto hier verwendet schon {}.",
    prove_to_link: "Geben Sie sein Passwort ein, um es mit Ihrer Anmeldung über {} zu verknüpfen.",
    link_and_continue: "Verknüpfen und fortfahren",

    password_too_short: "Das Passwort muss mindestens {} Zeichen lang sein.",
    password_too_long: "Das Passwort darf höchstens 128 Zeichen lang sein.",
    password_too_few_kinds: "Das Passwort muss mindestens {} Arten von Zeichen mischen (Klein- und Großbuchstaben, \
                             Ziffern, Symbole).",
    password_is_the_email: "Das Passwort darf nicht die E-Mail-Adresse sein.",
    password_used_before: "Das Passwort muss sich von Ihren letzten {} Passwörtern unterscheiden.",
};

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn ui_locales_come_before_the_browser_and_english_is_the_fallback() {
        assert_eq!(choose(Some("fr de-CH"), &accept("en")).lang, "de");
        assert_eq!(choose(Some("fr"), &accept("fr-FR, de;q=0.5, en;q=0.4")).lang, "de");
        assert_eq!(choose(None, &accept("de-AT,de;q=0.9")).lang, "de");
        assert_eq!(choose(None, &accept("en-GB, de;q=0.9")).lang, "en");
        assert_eq!(choose(None, &accept("ja")).lang, "en");
        assert_eq!(choose(None, &HeaderMap::new()).lang, "en");
        assert_eq!(choose(Some(""), &accept("")).lang, "en");
    }

    #[test]
    fn every_sentence_with_a_value_has_one_place_for_it_in_each_language() {
        for texts in [&EN, &DE] {
            for sentence in [
                texts.to_continue_to,
                texts.too_many_attempts,
                texts.code_sent_to,
                texts.set_up_two_step_explained,
                texts.continue_to,
                texts.wants_access,
                texts.signed_in_as,
                texts.asks_to,
                texts.sent_back_to,
                texts.signed_out_of,
                texts.password_changed,
                texts.password_too_short,
                texts.password_too_few_kinds,
                texts.password_used_before,
                texts.continue_with,
                texts.upstream_cancelled,
                texts.upstream_failed,
                texts.upstream_no_email,
                texts.upstream_unverified_email,
                texts.account_uses_address,
                texts.prove_to_link,
            ] {
                assert_eq!(sentence.matches("{}").count(), 1, "{}: {sentence}", texts.lang);
            }
        }
        assert_eq!(fill(DE.too_many_attempts, 15), "Zu viele Versuche. Versuchen Sie es in 15 Minuten erneut.");
    }
}
