using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace TcpStore.Akka.Store;

/// <summary>
/// The decimal ASCII integers ADD reads and writes. Parsing follows C <c>strtoll(s, &amp;end, 10)</c> as
/// <c>std::stoll</c> uses it (docs/PROTOCOL.md §2.6), so values written by other clients behave as in PyTorch.
/// </summary>
internal static class DecimalValue
{
    /// <summary>Reason when the value holds no digits where a number must start.</summary>
    public const string NotANumber = RejectionReasons.AddNotANumber;

    /// <summary>Reason when the digits denote a number outside the int64 range.</summary>
    public const string OutOfRange = RejectionReasons.AddOutOfRange;

    /// <summary>
    /// Parses like <c>strtoll</c> in the C locale: leading white space (space, \t, \n, \v, \f, \r), an optional
    /// sign, at least one decimal digit; anything after the digits is ignored (<c>" 7xyz"</c> is 7).
    /// </summary>
    /// <returns>false with <paramref name="failureReason"/> set to <see cref="NotANumber"/> or
    /// <see cref="OutOfRange"/> where <c>std::stoll</c> would throw.</returns>
    public static bool TryParse(ReadOnlySpan<byte> text, out long value, [NotNullWhen(false)] out string? failureReason)
    {
        var i = 0;
        while (i < text.Length && IsCSpace(text[i]))
            i++;

        var negative = false;
        if (i < text.Length && (text[i] == (byte)'+' || text[i] == (byte)'-'))
        {
            negative = text[i] == (byte)'-';
            i++;
        }

        // The magnitude is accumulated unsigned so that long.MinValue (whose magnitude exceeds long.MaxValue)
        // parses without a special case.
        var limit = negative ? (ulong)long.MaxValue + 1 : long.MaxValue;
        ulong magnitude = 0;
        var start = i;
        for (; i < text.Length; i++)
        {
            var digit = (uint)(text[i] - (byte)'0');
            if (digit > 9)
                break;
            if (magnitude > (limit - digit) / 10)
            {
                value = 0;
                failureReason = OutOfRange;
                return false;
            }
            magnitude = magnitude * 10 + digit;
        }

        if (i == start)
        {
            value = 0;
            failureReason = NotANumber;
            return false;
        }

        value = negative ? (long)(0UL - magnitude) : (long)magnitude;
        failureReason = null;
        return true;
    }

    /// <summary>The value as <c>std::to_string</c> writes it: invariant decimal ASCII, '-' for negatives.</summary>
    public static byte[] Format(long value)
    {
        Span<byte> buffer = stackalloc byte[20]; // "-9223372036854775808" is the longest.
        value.TryFormat(buffer, out var written, default, CultureInfo.InvariantCulture);
        return buffer[..written].ToArray();
    }

    // C isspace() in the "C" locale.
    private static bool IsCSpace(byte b) => b == (byte)' ' || (b >= (byte)'\t' && b <= (byte)'\r');
}
