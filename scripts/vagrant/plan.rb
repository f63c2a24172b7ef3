# frozen_string_literal: true

# Prints, as JSON, the machines the Vagrantfile defines as Vagrant itself
# loads them: for each machine in definition order, and for each provider,
# its hostname, private addresses, forwarded guest ports, memory and cpus.
# Run with Vagrant's Ruby from the project root:
#   ruby scripts/vagrant/plan.rb
# (the test in kit/vagrant compares it with cluster.yaml). It only reads
# configuration: no provider needs to be installed or usable.
require "json"
require "vagrant"

env = Vagrant::Environment.new(cwd: Dir.pwd, ui_class: Vagrant::UI::Silent)
plan = env.machine_names.map do |name|
  entry = { "name" => name.to_s, "providers" => {} }
  %i[virtualbox libvirt docker].each do |provider|
    conf = env.vagrantfile.machine_config(name, provider, env.boxes, nil, false)
    vm = conf[:config].vm
    pc = vm.get_provider_config(provider)
    memory, cpus = nil, nil
    if provider == :docker
      args = pc.create_args
      memory = args[args.index("--memory") + 1].delete_suffix("m").to_i if args.include?("--memory")
      cpus = args[args.index("--cpus") + 1].to_i if args.include?("--cpus")
    elsif provider == :virtualbox
      # vb.memory= and vb.cpus= become "modifyvm" customizations.
      pc.customizations.each do |_event, cmd|
        memory = cmd[3].to_i if cmd[2] == "--memory"
        cpus = cmd[3].to_i if cmd[2] == "--cpus"
      end
    else
      memory = pc.memory.to_i
      cpus = pc.cpus.to_i
    end
    entry["hostname"] = vm.hostname
    entry["providers"][provider.to_s] = {
      "box" => provider == :docker ? pc.image : vm.box,
      "ips" => vm.networks.select { |t, _| t == :private_network }.map { |_, o| o[:ip] },
      "forwarded" => vm.networks.select { |t, o| t == :forwarded_port && o[:id] != "ssh" }.map { |_, o| o[:guest] },
      "memory" => memory,
      "cpus" => cpus,
      "provisioners" => vm.provisioners.map { |p| "#{p.type}:#{p.config.path}:#{p.config.args&.first}" }
    }
  rescue Vagrant::Errors::VagrantError, NoMethodError => e
    # libvirt is a plugin: where it is not installed there is no config.
    entry["providers"][provider.to_s] = { "error" => e.message.lines.first.to_s.strip }
  end
  entry
end
puts JSON.pretty_generate(plan)
