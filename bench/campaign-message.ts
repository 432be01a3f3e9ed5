/**
 * A pre-built HTML campaign message of about `bytes` bytes (CRLF line ends,
 * quoted-printable like the message builder's output), for the bare-SMTP
 * baselines: sending the same amount of data as the pipeline they are
 * compared with keeps message size out of the ratio.
 */
export function campaignLikeMessage(bytes: number): Buffer {
  const head = [
    'From: Shop <news@shop.example>',
    'To: person@example.com',
    'Subject: News for you',
    'Date: Mon, 01 Dec 2025 09:00:00 +0000',
    'Message-ID: <bench@shop.example>',
    'List-Unsubscribe: <https://herald.example/u/token>',
    'List-Unsubscribe-Post: List-Unsubscribe=One-Click',
    'MIME-Version: 1.0',
    'Content-Type: text/html; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    '<h1>Hello there</h1>',
    '',
  ].join('\r\n');
  const paragraph =
    '<p style=3D"margin:0 0 12px;font-family:Arial,sans-serif">This month: new arrivals, =\r\n' +
    'our spring sale and a guide to choosing the right size. Read on for details.</p>\r\n';
  const filler = 'Thank you for reading.\r\n';
  let body = '';
  while (head.length + body.length + paragraph.length <= bytes) body += paragraph;
  while (head.length + body.length + filler.length <= bytes) body += filler;
  return Buffer.from(head + body);
}
