using System.Text;

namespace TcpStore.Akka.Cli;

/// <summary>How values are shown (text when printable, else hex or base64) and read from the command line.</summary>
internal static class ValueFormat
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The value as text if it is valid UTF-8 without control characters (tab, CR, LF allowed), else in <paramref name="binary"/>.</summary>
    public static (string Text, string Encoding) Show(byte[] value, string binary)
    {
        if (TryPrintable(value, out var text)) return (text, "text");
        return binary == "base64" ? (Convert.ToBase64String(value), "base64") : (Convert.ToHexStringLower(value), "hex");
    }

    private static bool TryPrintable(byte[] value, out string text)
    {
        text = "";
        try
        {
            text = StrictUtf8.GetString(value);
        }
        catch (DecoderFallbackException)
        {
            return false;
        }

        foreach (var c in text)
        {
            if (char.IsControl(c) && c is not ('\t' or '\n' or '\r')) return false;
        }

        return true;
    }

    /// <summary>Parses a value given on the command line in <paramref name="input"/> (text, hex or base64).</summary>
    /// <exception cref="FormatException">Not valid hex or base64.</exception>
    public static byte[] Parse(string value, string input) => input switch
    {
        "hex" => Convert.FromHexString(value),
        "base64" => Convert.FromBase64String(value),
        _ => Encoding.UTF8.GetBytes(value),
    };

    /// <summary>"500ms", "30s", "5m", "1h", or a plain number of seconds; "0" is zero.</summary>
    public static bool TryParseDuration(string text, out TimeSpan duration)
    {
        duration = default;
        text = text.Trim();
        (string number, double scale) = text switch
        {
            _ when text.EndsWith("ms", StringComparison.OrdinalIgnoreCase) => (text[..^2], 1.0),
            _ when text.EndsWith('s') || text.EndsWith('S') => (text[..^1], 1000.0),
            _ when text.EndsWith('m') || text.EndsWith('M') => (text[..^1], 60_000.0),
            _ when text.EndsWith('h') || text.EndsWith('H') => (text[..^1], 3_600_000.0),
            _ => (text, 1000.0),
        };
        if (!double.TryParse(number, System.Globalization.NumberStyles.Float,
                System.Globalization.CultureInfo.InvariantCulture, out var amount) || amount < 0 || double.IsInfinity(amount))
            return false;
        duration = TimeSpan.FromMilliseconds(amount * scale);
        return true;
    }
}
