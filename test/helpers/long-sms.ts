/** Texts of long SMS as firmware that does not join parts hands them over, one RECEIVE per part. */

/** Three full GSM parts: 153 + 153 + 153 characters. */
export const GSM_PARTS = ['A', 'B', 'C'].map((letter, i) => `${letter}${i}`.padEnd(153, letter.toLowerCase()));
/** UCS-2 67 + 67 + 10 characters. */
export const UCS2_PARTS = ['短'.repeat(67), '信'.repeat(67), '长短信结束了谢谢你'.padEnd(10, '！')];
