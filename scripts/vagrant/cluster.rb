# frozen_string_literal: true

# Reads cluster.yaml for the Vagrantfile: the tutorial's bare list of
# machines, or a mapping with "machines", "provider" and "network". The
# full checks (with line numbers) are `drover cluster validate`'s; this
# only fills in the defaults the same way.
require "yaml"

module DroverCluster
  DEFAULTS = { "ram" => 1024, "cpus" => 1 }.freeze

  module_function

  def load(path)
    doc = YAML.safe_load(File.read(path)) || []
    spec = doc.is_a?(Array) ? { "machines" => doc } : doc
    machines = (spec["machines"] || []).map { |m| DEFAULTS.merge(m) }
    machines.each do |m|
      m["role"] ||= if m["name"].include?("server") then "server"
                    elsif m["name"].include?("client") then "client"
                    end
      raise "#{path}: machine #{m['name']} has no role (run: drover cluster validate)" unless m["role"]
    end
    # Servers first: clients join them as they come up.
    machines = machines.each_with_index.sort_by { |m, i| [m["role"] == "server" ? 0 : 1, i] }.map(&:first)
    cidr = spec.dig("network", "cidr") || "#{machines.first['ip'].split('.')[0, 3].join('.')}.0/24"
    { "provider" => spec["provider"] || "virtualbox", "cidr" => cidr, "machines" => machines }
  end

  def netmask(cidr)
    IPAddr.new("255.255.255.255").mask(cidr.split("/").last.to_i).to_s
  end
end
