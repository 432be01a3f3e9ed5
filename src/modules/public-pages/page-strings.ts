/**
 * The words of the public pages, per language. Pages behind a signed link use
 * the contact's `locale`; the hosted form uses the browser's Accept-Language.
 * Anything else falls back to English. Functions take HTML fragments that are
 * already escaped (list names); the fixed text here holds no markup-special
 * characters. To add a language, add an object with every key and list it in
 * LOCALES.
 */
export interface PageStrings {
  lang: string;
  notFoundTitle: string;
  notFoundBody: string;
  unsubscribeTitle: string;
  unsubscribeFrom: string;
  allMarketing: string;
  unsubscribeButton: string;
  unsubscribeAllButton: string;
  alreadyAll: string;
  alreadyFrom: (what: string) => string;
  orChoose: (link: (text: string) => string) => string;
  thisList: string;
  otherLists: (count: number) => string;
  and: string;
  unsubscribedTitle: string;
  noLonger: (what: string) => string;
  noLongerAll: string;
  wereAlready: (what: string) => string;
  wereAlreadyAll: string;
  preferencesTitle: string;
  forAddress: (email: string) => string;
  unsubscribedAllNote: string;
  listsLegend: string;
  pending: string;
  noLists: string;
  privacyLegend: string;
  doNotTrack: string;
  doNotSell: string;
  saveButton: string;
  saved: string;
  savedAll: string;
  expiredTitle: string;
  expiredBody: (link: (text: string) => string) => string;
  subscribeTitle: (list: string) => string;
  emailLabel: string;
  firstNameLabel: string;
  optional: string;
  honeypotLabel: string;
  subscribeButton: string;
  willConfirm: string;
  enterEmail: string;
  checkEmail: string;
  disposableEmail: string;
  /** Both arguments arrive HTML-escaped. */
  didYouMean: (suggestion: string, typed: string) => string;
  checkInboxTitle: string;
  checkInboxBody: string;
  thanksTitle: string;
  thanksBody: string;
  tooManyTitle: string;
  tooManyBody: string;
  consentText: (list: string, workspace: string) => string;
}

const en: PageStrings = {
  lang: 'en',
  notFoundTitle: 'Link not valid',
  notFoundBody: 'This link is not valid or has expired.',
  unsubscribeTitle: 'Unsubscribe',
  unsubscribeFrom: 'Unsubscribe from',
  allMarketing: 'All marketing email',
  unsubscribeButton: 'Unsubscribe',
  unsubscribeAllButton: 'Unsubscribe from all marketing email',
  alreadyAll: 'You are already unsubscribed from all marketing email.',
  alreadyFrom: (what) => `You are already unsubscribed from ${what}.`,
  orChoose: (link) => `Or ${link('choose which emails you receive')}.`,
  thisList: 'this mailing list',
  otherLists: (n) => `${n} other mailing list${n === 1 ? '' : 's'}`,
  and: 'and',
  unsubscribedTitle: 'You are unsubscribed',
  noLonger: (what) => `You will no longer receive ${what}.`,
  noLongerAll: 'You will no longer receive any marketing email.',
  wereAlready: (what) => `You were already unsubscribed from ${what}.`,
  wereAlreadyAll: 'You were already unsubscribed from all marketing email.',
  preferencesTitle: 'Your email preferences',
  forAddress: (email) => `For ${email}`,
  unsubscribedAllNote:
    'You are unsubscribed from all marketing email. Ticking a list and saving subscribes you to it again.',
  listsLegend: 'Emails you receive',
  pending: '(not confirmed yet: tick to confirm)',
  noLists: 'There are no lists to choose from.',
  privacyLegend: 'Privacy',
  doNotTrack: 'Do not record when I open these emails or click their links',
  doNotSell: 'Do not sell or share my personal information',
  saveButton: 'Save preferences',
  saved: 'Your preferences are saved.',
  savedAll: 'You are unsubscribed from all marketing email.',
  expiredTitle: 'This page has expired',
  expiredBody: (link) => `Nothing was changed. ${link('Reload the page')} and make your choice again.`,
  subscribeTitle: (list) => `Subscribe to ${list}`,
  emailLabel: 'Email address',
  firstNameLabel: 'First name',
  optional: '(optional)',
  honeypotLabel: 'Leave this field empty',
  subscribeButton: 'Subscribe',
  willConfirm: 'We will email you a link to confirm.',
  enterEmail: 'Please enter your email address.',
  checkEmail: 'Please check your email address.',
  disposableEmail: 'Please use a permanent email address: temporary (disposable) addresses are not accepted.',
  didYouMean: (suggestion, typed) =>
    `Did you mean ${suggestion}? Subscribe with it below, or enter ${typed} again if that is right.`,
  checkInboxTitle: 'Check your inbox',
  checkInboxBody: 'We have sent you an email with a link. Open it to confirm your subscription.',
  thanksTitle: 'Thank you',
  thanksBody: 'Your subscription is registered.',
  tooManyTitle: 'Too many attempts',
  tooManyBody: 'Please wait an hour and try again.',
  consentText: (list, workspace) =>
    `I want to receive the "${list}" emails from ${workspace}. I can unsubscribe at any time with the link in every email.`,
};

const de: PageStrings = {
  lang: 'de',
  notFoundTitle: 'Link ungültig',
  notFoundBody: 'Dieser Link ist ungültig oder abgelaufen.',
  unsubscribeTitle: 'Abmelden',
  unsubscribeFrom: 'Abmelden von',
  allMarketing: 'Allen Werbe-E-Mails',
  unsubscribeButton: 'Abmelden',
  unsubscribeAllButton: 'Von allen Werbe-E-Mails abmelden',
  alreadyAll: 'Sie sind bereits von allen Werbe-E-Mails abgemeldet.',
  alreadyFrom: (what) => `Sie sind bereits von ${what} abgemeldet.`,
  orChoose: (link) => `Oder ${link('wählen Sie, welche E-Mails Sie erhalten')}.`,
  thisList: 'dieser Liste',
  otherLists: (n) => `${n} ${n === 1 ? 'weiteren Liste' : 'weiteren Listen'}`,
  and: 'und',
  unsubscribedTitle: 'Sie sind abgemeldet',
  noLonger: (what) => `Sie erhalten keine E-Mails von ${what} mehr.`,
  noLongerAll: 'Sie erhalten keine Werbe-E-Mails mehr.',
  wereAlready: (what) => `Sie waren bereits von ${what} abgemeldet.`,
  wereAlreadyAll: 'Sie waren bereits von allen Werbe-E-Mails abgemeldet.',
  preferencesTitle: 'Ihre E-Mail-Einstellungen',
  forAddress: (email) => `Für ${email}`,
  unsubscribedAllNote:
    'Sie sind von allen Werbe-E-Mails abgemeldet. Wenn Sie eine Liste ankreuzen und speichern, sind Sie dort wieder angemeldet.',
  listsLegend: 'E-Mails, die Sie erhalten',
  pending: '(noch nicht bestätigt: ankreuzen zum Bestätigen)',
  noLists: 'Es gibt keine Listen zur Auswahl.',
  privacyLegend: 'Datenschutz',
  doNotTrack: 'Nicht erfassen, wenn ich diese E-Mails öffne oder ihre Links anklicke',
  doNotSell: 'Meine personenbezogenen Daten nicht verkaufen oder weitergeben',
  saveButton: 'Einstellungen speichern',
  saved: 'Ihre Einstellungen sind gespeichert.',
  savedAll: 'Sie sind von allen Werbe-E-Mails abgemeldet.',
  expiredTitle: 'Diese Seite ist abgelaufen',
  expiredBody: (link) =>
    `Es wurde nichts geändert. ${link('Laden Sie die Seite neu')} und wählen Sie erneut.`,
  subscribeTitle: (list) => `${list} abonnieren`,
  emailLabel: 'E-Mail-Adresse',
  firstNameLabel: 'Vorname',
  optional: '(optional)',
  honeypotLabel: 'Dieses Feld leer lassen',
  subscribeButton: 'Abonnieren',
  willConfirm: 'Wir senden Ihnen einen Link zur Bestätigung.',
  enterEmail: 'Bitte geben Sie Ihre E-Mail-Adresse ein.',
  checkEmail: 'Bitte prüfen Sie Ihre E-Mail-Adresse.',
  disposableEmail:
    'Bitte verwenden Sie eine dauerhafte E-Mail-Adresse: Wegwerfadressen werden nicht angenommen.',
  didYouMean: (suggestion, typed) =>
    `Meinten Sie ${suggestion}? Abonnieren Sie damit unten, oder geben Sie ${typed} erneut ein, wenn das richtig ist.`,
  checkInboxTitle: 'Bitte prüfen Sie Ihr Postfach',
  checkInboxBody:
    'Wir haben Ihnen eine E-Mail mit einem Link geschickt. Öffnen Sie ihn, um Ihr Abonnement zu bestätigen.',
  thanksTitle: 'Vielen Dank',
  thanksBody: 'Ihr Abonnement ist eingetragen.',
  tooManyTitle: 'Zu viele Versuche',
  tooManyBody: 'Bitte warten Sie eine Stunde und versuchen Sie es erneut.',
  consentText: (list, workspace) =>
    `Ich möchte die E-Mails „${list}“ von ${workspace} erhalten. Ich kann mich jederzeit über den Link in jeder E-Mail abmelden.`,
};

export const LOCALES: Record<string, PageStrings> = { en, de };

/** The strings of the first candidate language Herald has (by primary subtag: de-AT -> de), else English. */
export function pageStrings(...candidates: (string | null | undefined)[]): PageStrings {
  for (const candidate of candidates) {
    const primary = candidate?.trim().toLowerCase().split(/[-_]/)[0];
    if (primary && primary in LOCALES) return LOCALES[primary] as PageStrings;
  }
  return en;
}
