using Akka.Configuration;

namespace TcpStore.Akka.Configuration;

/// <summary>Reads and checks one value of the <c>tcpstore</c> section, naming the key when it is out of range.</summary>
internal static class SettingsReader
{
    public static int Int(Config section, string key, int min, int max)
    {
        var value = Read(section, key, static (c, k) => c.GetInt(k), "an integer");
        return value < min || value > max
            ? throw new ConfigurationException($"{TcpStoreSettings.ConfigPath}.{key} = {value} is out of range [{min}, {max}].")
            : value;
    }

    public static int Positive(Config section, string key) => Int(section, key, 1, int.MaxValue);

    public static TimeSpan PositiveTime(Config section, string key)
    {
        var value = Read(section, key, static (c, k) => c.GetTimeSpan(k), "a duration such as 250ms or 2s");
        return value <= TimeSpan.Zero
            ? throw new ConfigurationException($"{TcpStoreSettings.ConfigPath}.{key} = {value} must be positive.")
            : value;
    }

    /// <summary>Akka's HOCON reader throws a bare FormatException for a malformed value; this names the key.</summary>
    private static T Read<T>(Config section, string key, Func<Config, string, T> read, string expected)
    {
        try
        {
            return read(section, key);
        }
        catch (Exception e) when (e is FormatException or OverflowException)
        {
            throw new ConfigurationException(
                $"{TcpStoreSettings.ConfigPath}.{key} = {section.GetString(key)} is not {expected}.", e);
        }
    }
}
