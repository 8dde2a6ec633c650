using Akka.Configuration;

namespace TcpStore.Akka.Configuration;

/// <summary>Reads and checks one value of the <c>tcpstore</c> section, naming the key when it is out of range.</summary>
internal static class SettingsReader
{
    public static int Int(Config section, string key, int min, int max)
    {
        var value = section.GetInt(key);
        return value < min || value > max
            ? throw new ConfigurationException($"{TcpStoreSettings.ConfigPath}.{key} = {value} is out of range [{min}, {max}].")
            : value;
    }

    public static int Positive(Config section, string key) => Int(section, key, 1, int.MaxValue);

    public static TimeSpan PositiveTime(Config section, string key)
    {
        var value = section.GetTimeSpan(key);
        return value <= TimeSpan.Zero
            ? throw new ConfigurationException($"{TcpStoreSettings.ConfigPath}.{key} = {value} must be positive.")
            : value;
    }
}
