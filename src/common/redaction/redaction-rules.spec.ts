import { isValidIban, passesLuhn } from './redaction-rules';

describe('redaction checks', () => {
  describe(passesLuhn.name, () => {
    it.each(['4111111111111111', '378282246310005', '5555555555554444', '6011111111111117', '0'])('%s passes', (digits) => {
      expect(passesLuhn(digits)).toBe(true);
    });
    it.each(['4111111111111112', '378282246310006', '1234567812345678', '', '4111 1111'])('%j fails', (digits) => {
      expect(passesLuhn(digits)).toBe(false);
    });
  });

  describe(isValidIban.name, () => {
    it.each(['DE89370400440532013000', 'DE89 3704 0044 0532 0130 00', 'GB82WEST12345698765432', 'FR1420041010050500013M02606', 'de89370400440532013000'])(
      '%s is valid',
      (iban) => {
        expect(isValidIban(iban)).toBe(true);
      },
    );
    it.each(['DE89370400440532013001', 'DE88370400440532013000', 'GB82WEST1234', 'XX00', '1234567890123456789'])('%s is not', (iban) => {
      expect(isValidIban(iban)).toBe(false);
    });
  });
});
