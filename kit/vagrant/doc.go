// Package vagrant holds the tests of the kit's Vagrantfile: they drive
// Vagrant itself (vagrant validate, vagrant status, and Vagrant's own
// loader through scripts/vagrant/plan.rb) and compare what it would create
// with cluster.yaml as kit/topology reads it. The Vagrantfile, its Ruby
// helpers (scripts/vagrant) and scripts/provision.sh are the kit; the end
// to end run with the docker provider is scripts/vagrant-docker.sh.
package vagrant
