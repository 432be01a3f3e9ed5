import type { Role } from './roles.js';
import type { InvitationProblem } from './users.service.js';

/**
 * The words of the invitation accept page, per language, chosen by the
 * browser's Accept-Language (English otherwise), like the other public pages
 * (src/modules/public-pages/page-strings.ts). Functions take HTML that is
 * already escaped (workspace names, addresses); the fixed text holds no
 * markup-special characters. To add a language, add an object with every key
 * and list it in LOCALES.
 */
export interface InvitationStrings {
  lang: string;
  roles: Record<Role, string>;
  joinTitle: (workspace: string) => string;
  invited: (workspace: string, role: string) => string;
  emailLabel: string;
  passwordLabel: string;
  passwordHint: (min: number) => string;
  createButton: string;
  existingAccount: (email: string) => string;
  joinButton: string;
  expires: (when: string) => string;
  choosePassword: (min: number) => string;
  passwordTooShort: (min: number, length: number) => string;
  passwordTooLong: (max: number) => string;
  welcomeTitle: string;
  signedIn: (workspace: string, role: string) => string;
  joinedExisting: (workspace: string, role: string) => string;
  invalidTitle: string;
  problems: Record<InvitationProblem | 'unknown', string>;
  crossSiteTitle: string;
  crossSiteBody: string;
  tooManyTitle: string;
  tooManyBody: string;
  dateTime: (at: Date) => string;
}

function utcDateTime(locale: string, at: Date): string {
  return `${new Intl.DateTimeFormat(locale, { dateStyle: 'long', timeStyle: 'short', timeZone: 'UTC' }).format(at)} UTC`;
}

const en: InvitationStrings = {
  lang: 'en',
  roles: { owner: 'owner', admin: 'admin', editor: 'editor', analyst: 'analyst', viewer: 'viewer' },
  joinTitle: (workspace) => `Join ${workspace}`,
  invited: (workspace, role) => `You are invited to join the workspace ${workspace} on Herald as ${role}.`,
  emailLabel: 'Email address',
  passwordLabel: 'Choose a password',
  passwordHint: (min) => `At least ${min} characters. A long passphrase is best.`,
  createButton: 'Create account and join',
  existingAccount: (email) =>
    `${email} already has a Herald account: joining adds this workspace to it. Your password stays as it is.`,
  joinButton: 'Join the workspace',
  expires: (when) => `This invitation works once and expires on ${when}.`,
  choosePassword: (min) => `Please choose a password of at least ${min} characters.`,
  passwordTooShort: (min, length) =>
    `The password is too short: use at least ${min} characters (it has ${length}).`,
  passwordTooLong: (max) => `The password is too long: use at most ${max} characters.`,
  welcomeTitle: 'Welcome',
  signedIn: (workspace, role) =>
    `Your account is ready and you are signed in to ${workspace} as ${role}. You can close this page.`,
  joinedExisting: (workspace, role) =>
    `${workspace} is added to your account, as ${role}. Sign in with your current password to work in it.`,
  invalidTitle: 'Invitation not valid',
  problems: {
    forged:
      'This invitation link is not valid. Copy the whole link from the email, or ask for a new invitation.',
    gone: 'This invitation no longer exists. Ask the person who invited you for a new one.',
    used: 'This invitation was already used. Sign in with your email address and password.',
    revoked: 'This invitation was withdrawn. Ask the person who invited you for a new one.',
    expired: 'This invitation has expired. Ask the person who invited you for a new one.',
    unknown: 'This invitation cannot be used right now. Open the link from the email again.',
  },
  crossSiteTitle: 'Not accepted',
  crossSiteBody:
    'The form was sent from another site. Open the link from the invitation email and try again.',
  tooManyTitle: 'Too many attempts',
  tooManyBody: 'Please wait a minute and try again.',
  dateTime: (at) => utcDateTime('en-GB', at),
};

const de: InvitationStrings = {
  lang: 'de',
  roles: {
    owner: 'Inhaber',
    admin: 'Administrator',
    editor: 'Redakteur',
    analyst: 'Analyst',
    viewer: 'Betrachter',
  },
  joinTitle: (workspace) => `${workspace} beitreten`,
  invited: (workspace, role) =>
    `Sie sind eingeladen, dem Arbeitsbereich ${workspace} auf Herald als ${role} beizutreten.`,
  emailLabel: 'E-Mail-Adresse',
  passwordLabel: 'Passwort wählen',
  passwordHint: (min) => `Mindestens ${min} Zeichen. Am besten ein langer Satz.`,
  createButton: 'Konto anlegen und beitreten',
  existingAccount: (email) =>
    `${email} hat bereits ein Herald-Konto: Der Beitritt fügt ihm diesen Arbeitsbereich hinzu. Ihr Passwort bleibt, wie es ist.`,
  joinButton: 'Dem Arbeitsbereich beitreten',
  expires: (when) => `Diese Einladung gilt einmal und läuft am ${when} ab.`,
  choosePassword: (min) => `Bitte wählen Sie ein Passwort mit mindestens ${min} Zeichen.`,
  passwordTooShort: (min, length) =>
    `Das Passwort ist zu kurz: Verwenden Sie mindestens ${min} Zeichen (es hat ${length}).`,
  passwordTooLong: (max) => `Das Passwort ist zu lang: Verwenden Sie höchstens ${max} Zeichen.`,
  welcomeTitle: 'Willkommen',
  signedIn: (workspace, role) =>
    `Ihr Konto ist eingerichtet und Sie sind bei ${workspace} als ${role} angemeldet. Sie können diese Seite schließen.`,
  joinedExisting: (workspace, role) =>
    `${workspace} ist Ihrem Konto hinzugefügt, als ${role}. Melden Sie sich mit Ihrem bisherigen Passwort an, um darin zu arbeiten.`,
  invalidTitle: 'Einladung ungültig',
  problems: {
    forged:
      'Dieser Einladungslink ist ungültig. Kopieren Sie den ganzen Link aus der E-Mail oder bitten Sie um eine neue Einladung.',
    gone: 'Diese Einladung gibt es nicht mehr. Bitten Sie die einladende Person um eine neue.',
    used: 'Diese Einladung wurde bereits verwendet. Melden Sie sich mit E-Mail-Adresse und Passwort an.',
    revoked: 'Diese Einladung wurde zurückgezogen. Bitten Sie die einladende Person um eine neue.',
    expired: 'Diese Einladung ist abgelaufen. Bitten Sie die einladende Person um eine neue.',
    unknown: 'Diese Einladung kann gerade nicht verwendet werden. Öffnen Sie den Link aus der E-Mail erneut.',
  },
  crossSiteTitle: 'Nicht angenommen',
  crossSiteBody:
    'Das Formular wurde von einer anderen Website gesendet. Öffnen Sie den Link aus der Einladung und versuchen Sie es erneut.',
  tooManyTitle: 'Zu viele Versuche',
  tooManyBody: 'Bitte warten Sie eine Minute und versuchen Sie es erneut.',
  dateTime: (at) => utcDateTime('de-DE', at),
};

export const LOCALES: Record<string, InvitationStrings> = { en, de };

/** The strings of the first candidate language there are strings for (de-AT -> de), else English. */
export function invitationStrings(...candidates: (string | null | undefined)[]): InvitationStrings {
  for (const candidate of candidates) {
    const primary = candidate?.trim().toLowerCase().split(/[-_]/)[0];
    if (primary && primary in LOCALES) return LOCALES[primary] as InvitationStrings;
  }
  return en;
}
