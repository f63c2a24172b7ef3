# frozen_string_literal: true

# Checks the Vagrantfile runs before any VM starts, so that a student sees
# the exact fix instead of a provider error halfway through `vagrant up`.
# Pure functions of their inputs (cluster.yaml's machines, the output of
# `VBoxManage --version`, the text of /etc/vbox/networks.conf), tested by
# scripts/vagrant/preflight_test.rb.
require "ipaddr"

module DroverPreflight
  DOCKER_BRIDGE = IPAddr.new("172.17.0.0/16")
  # What VirtualBox 6.1.28 and later allow for host-only networks when
  # /etc/vbox/networks.conf does not exist.
  VBOX_DEFAULT_RANGES = [IPAddr.new("192.168.56.0/21")].freeze
  VBOX_RESTRICTED_SINCE = [6, 1, 28].freeze

  module_function

  # "6.1.38r153438" or "7.0.12_Ubuntur159484" → [6, 1, 38]; nil when the
  # output holds no version (VBoxManage missing or broken).
  def vbox_version(output)
    m = output.to_s.match(/(\d+)\.(\d+)\.(\d+)/)
    m && m.captures.map(&:to_i)
  end

  def vbox_restricts_ranges?(version)
    !version.nil? && (version <=> VBOX_RESTRICTED_SINCE) >= 0
  end

  # The ranges networks.conf allows: lines "* 10.0.0.0/8 192.168.0.0/16";
  # nil when there is no such file (VirtualBox's default applies).
  def allowed_ranges(networks_conf)
    return nil if networks_conf.nil?

    networks_conf.each_line.flat_map do |line|
      line = line.sub(/#.*/, "").strip
      next [] unless line.start_with?("*")

      line.split[1..].filter_map do |cidr|
        IPAddr.new(cidr)
      rescue IPAddr::InvalidAddressError
        nil
      end
    end
  end

  # Every problem with its fix, as lines to print; empty when all is well.
  # machines: [{"name" =>, "ip" =>}]; provider: the one `vagrant up` uses.
  def problems(machines, provider:, vbox_version_output: nil, networks_conf: nil)
    out = []
    machines.each do |m|
      next unless DOCKER_BRIDGE.include?(IPAddr.new(m["ip"]))

      out << "#{m['name']}: #{m['ip']} is inside 172.17.0.0/16, Docker's default bridge, which every " \
             "client runs: its traffic would stay on the local machine.\n" \
             "  Fix: give the machines addresses on another network in cluster.yaml, such as " \
             "192.168.56.0/24, and check it with: drover cluster validate"
    end
    return out unless provider == "virtualbox"

    version = vbox_version(vbox_version_output)
    return out unless vbox_restricts_ranges?(version)

    ranges = allowed_ranges(networks_conf) || VBOX_DEFAULT_RANGES
    refused = machines.reject { |m| ranges.any? { |r| r.include?(IPAddr.new(m["ip"])) } }
    return out if refused.empty?

    nets = refused.map { |m| "#{IPAddr.new(m['ip']).mask(24)}/24" }.uniq
    allowed = ranges.map { |r| "#{r}/#{r.prefix}" }.join(", ")
    out << "VirtualBox #{version.join('.')} allows host-only networks only in #{allowed} " \
           "(#{networks_conf.nil? ? 'its default: there is no /etc/vbox/networks.conf' : '/etc/vbox/networks.conf'}), " \
           "and will refuse #{refused.map { |m| "#{m['name']} (#{m['ip']})" }.join(', ')}.\n" \
           "  Fix: sudo mkdir -p /etc/vbox && echo '* #{nets.join(' ')}' | sudo tee -a /etc/vbox/networks.conf\n" \
           "  or move the machines into #{allowed} in cluster.yaml."
    out
  end
end
